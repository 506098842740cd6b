// `tips train` when things go wrong, run in-process on tips-test: the GPU device lost mid-run
// (one line, exit 1, and --resume from the last checkpoint finishes the run), and --resume of a
// run that has already finished (one line, exit 0, the checkpoint not rewritten).
import { copyFile, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { train } from "../../src/cli/train";
import { readCheckpoint } from "../../src/train/checkpoint";
import { Trainer } from "../../src/train/trainer";

/** Runs `tips train args`; returns what it printed and its exit code. */
async function tipsTrain(args: string[]): Promise<{ out: string; code: number }> {
  const lines: string[] = [];
  const keep = (...parts: unknown[]) => lines.push(parts.join(" "));
  const spies = (["log", "warn", "error"] as const).map((m) => vi.spyOn(console, m).mockImplementation(keep));
  process.exitCode = undefined;
  try {
    await train(args);
    return { out: lines.join("\n"), code: process.exitCode ?? 0 };
  } finally {
    process.exitCode = undefined;
    for (const spy of spies) spy.mockRestore();
  }
}

const step = async (path: string) => readCheckpoint(new Uint8Array(await readFile(path))).info.state.step;

describe("tips train faults", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tips-train-faults-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("says in one line that the GPU device was lost, and --resume finishes the run", async () => {
    const out = join(dir, "lost.safetensors");
    const args = ["--preset", "tips-test", "--steps", "6", "--batch", "2", "--save-every", "2"];
    // The device is lost as step 4 (index 3) starts; the checkpoint of step 2 is the last one.
    const trainStep = Trainer.prototype.trainStep;
    const lose = vi.spyOn(Trainer.prototype, "trainStep").mockImplementation(function (this: Trainer, batch) {
      if (this.step === 3) this.gpu.loseDevice();
      return trainStep.call(this, batch);
    });
    const lost = await tipsTrain([...args, "--out", out, "--data-workers", "0"]);
    lose.mockRestore();
    expect(lost.code, lost.out).toBe(1);
    const errors = lost.out.split("\n").filter((line) => line.startsWith("tips train:"));
    expect(errors).toEqual([
      expect.stringMatching(
        /^tips train: the GPU device was lost at step \d \(\w+\); continue from its checkpoint \(step 2\) with: tips train --resume .*lost\.safetensors$/,
      ),
    ]);
    expect(lost.out).not.toMatch(/\n\s+at /); // no stack trace
    expect(await step(out)).toBe(2);

    const resumed = await tipsTrain(["--resume", out, "--data-workers", "0"]);
    expect(resumed.code, resumed.out).toBe(0);
    expect(resumed.out).toContain("steps 2..6");
    expect(await step(out)).toBe(6);
  }, 400_000); // two runs, each compiling the kernels on SwiftShader

  it("leaves a finished run's checkpoint as it is on --resume, saying the run is finished", async () => {
    const out = join(dir, "finished.safetensors");
    await copyFile("test/fixtures/trained/tips-test-80.safetensors", out); // 80 of 80 steps
    const before = { bytes: await readFile(out), mtime: (await stat(out)).mtimeMs };
    const again = await tipsTrain(["--resume", out, "--data-workers", "0"]);
    expect(again.code).toBe(0);
    expect(again.out).toBe(
      `${out} already finished at step 80 of 80: nothing to do ` +
        `(to train its model further, start a new run from it with --from ${out} --steps N)`,
    );
    expect((await stat(out)).mtimeMs).toBe(before.mtime);
    expect(await readFile(out)).toEqual(before.bytes);
  });
});
