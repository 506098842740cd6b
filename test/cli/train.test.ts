// `tips train` as a user runs it: progress lines, Ctrl-C saves a checkpoint, --resume finishes
// the run, and mistakes in options are explained. The child processes inherit the SwiftShader
// environment of the test runner.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseLossWeights, parseRilsOptions, parseSparcOptions } from "../../src/cli/train";
import { DEFAULT_RILS, DEFAULT_SPARC } from "../../src/tips/loss";
import { readCheckpoint } from "../../src/train/checkpoint";
import { startTips } from "../helpers/cli";

describe("tips train", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tips-train-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("saves a checkpoint on Ctrl-C and finishes the run with --resume", async () => {
    const out = join(dir, "run.safetensors");
    // Scenes drawn by two worker threads, then (resumed) on the trainer's thread: the same batches.
    const args = ["train", "--preset", "tips-test", "--steps", "12", "--batch", "4", "--out", out];
    const first = startTips([...args, "--data-workers", "2"]);
    // Interrupt once the first step has been reported.
    await new Promise<void>((resolve) => {
      first.child.stdout?.on("data", (d: Buffer) => {
        if (d.toString().includes("step 1/12")) resolve();
      });
    });
    first.child.kill("SIGINT");
    const interrupted = await first.done;
    expect(interrupted.out).toMatch(/interrupted; saved step \d+ to/);
    expect(interrupted.code).toBe(130);
    const saved = readCheckpoint(new Uint8Array(await readFile(out))).info;
    expect(saved.state.step).toBeGreaterThan(0);
    expect(saved.state.step).toBeLessThan(12);
    expect(saved.notes.data).toBe("scenes");

    // A resumed run keeps its options; changing one is refused.
    const refused = await startTips(["train", "--resume", out, "--batch", "8"]).done;
    expect(refused.code).toBe(2);
    expect(refused.out).toContain("--batch cannot change a resumed run");

    const resumed = await startTips(["train", "--resume", out, "--data-workers", "0"]).done;
    expect(resumed.code, resumed.out).toBe(0);
    expect(resumed.out).toContain(`steps ${saved.state.step}..12`);
    expect(resumed.out).toContain("saved step 12");
    expect(readCheckpoint(new Uint8Array(await readFile(out))).info.state.step).toBe(12);

    // A new run from that model, with SPARC switched on: its own options, step 0 onwards.
    const next = join(dir, "sparc.safetensors");
    const from = await startTips([
      "train",
      ...["--from", out, "--steps", "1", "--batch", "2", "--loss", "web=1,sparc=1", "--out", next],
    ]).done;
    expect(from.code, from.out).toBe(0);
    expect(from.out).toContain(`starting from the model of ${out} (step 12 of its run)`);
    expect(from.out).toContain("tips-test:");
    const started = readCheckpoint(new Uint8Array(await readFile(next))).info;
    expect(started.state.step).toBe(1);
    expect(started.options.weights).toEqual({ web: 1, syn: 0, dino: 0, mim: 0, sparc: 1, rils: 0 });
    expect(started.tokenizer).toEqual(saved.tokenizer);
  }, 600_000); // three CLI runs, each compiling the kernels: minutes on a busy 2-core machine

  it("explains bad options without starting", async () => {
    const cases: [string[], RegExp][] = [
      [["train", "--preset", "tips-huge"], /unknown preset "tips-huge"; choose one of: tips-test/],
      [["train", "--steps", "0"], /--steps takes an integer from 1/],
      [["train", "--loss", "web=1,clip=2"], /--loss takes name=weight items/],
      [["train", "--loss", "web=0"], /--loss switches every term off/],
      [["train", "--teacher", "none"], /--teacher takes full or heads/],
      [["train", "--centring", "mean"], /--centring takes sinkhorn or centre/],
      [["train", "--resume", join(dir, "missing.safetensors")], /cannot read --resume/],
      [["train", "--from", join(dir, "missing.safetensors")], /cannot read --from/],
      [["train", "--from", "x.safetensors", "--preset", "tips-test"], /--preset cannot be given with --from/],
      [
        ["train", "--resume", "x.safetensors", "--from", "y.safetensors"],
        /--from cannot change a resumed run/,
      ],
      [["train", "--data-workers", "65"], /--data-workers takes an integer from 0 to 64, got "65"/],
      [["train", "--frobnicate"], /^tips train: unknown option --frobnicate; see tips train --help$/],
    ];
    for (const [args, message] of cases) {
      const r = await startTips(args).done;
      expect(r.code, r.out).toBe(2);
      expect(r.out.trim()).toMatch(message);
      expect(r.out.trim().split("\n"), r.out).toHaveLength(1);
    }
  });

  it("switches SPARC and RILS on with --loss and reads their options", () => {
    expect(parseLossWeights("web=1,syn=1,sparc=1,rils=0.5")).toEqual({
      web: 1,
      syn: 1,
      dino: 0,
      mim: 0,
      sparc: 1,
      rils: 0.5,
    });
    expect(parseSparcOptions(undefined)).toEqual(DEFAULT_SPARC);
    expect(parseSparcOptions("caption=web,temperature=0.1")).toEqual({ caption: "web", temperature: 0.1 });
    expect(parseRilsOptions(undefined)).toEqual(DEFAULT_RILS);
    expect(parseRilsOptions("student=0.2,teacher=0.07")).toEqual({
      caption: "syn",
      tauStudent: 0.2,
      tauTeacher: 0.07,
    });
    expect(() => parseLossWeights("sparc=-1")).toThrow(
      /--loss takes name=weight items from web, syn, dino, mim, sparc, rils/,
    );
    expect(() => parseSparcOptions("caption=alt")).toThrow(/--sparc caption takes syn or web, got "alt"/);
    expect(() => parseSparcOptions("temperature=0")).toThrow(/--sparc temperature takes a positive number/);
    expect(() => parseRilsOptions("tau=1")).toThrow(
      /--rils takes key=value items from caption, student, teacher/,
    );
    expect(() => parseRilsOptions("teacher=")).toThrow(/--rils takes key=value items/);
  });
});
