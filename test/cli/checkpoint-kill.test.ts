// kill -9 while `tips train` writes a checkpoint: the file it replaces must stay whole. A child
// process saves two versions of a real tips-test checkpoint in turn with the CLI's own
// writeFileAtomic (temporary name, fsync, rename) and is killed with SIGKILL at a random moment;
// after each of 20 kills the checkpoint must be one of the two versions, byte for byte.
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeSafetensors, encodeSafetensors } from "../../src/tensor/safetensors";
import { readCheckpoint } from "../../src/train/checkpoint";

const TRIALS = 20;
const FIXTURE = "test/fixtures/trained/tips-test-80.safetensors";

/** The writer: saves A, B, A, ... to OUT forever, saying "ready" before the first save. */
const WRITER = `
import { readFileSync } from "node:fs";
import { writeFileAtomic } from ${JSON.stringify(resolve("src/cli/files.ts"))};
const [out, a, b] = process.argv.slice(2);
const versions = [readFileSync(a), readFileSync(b)];
process.stdout.write("ready\\n");
for (let i = 1; ; i++) await writeFileAtomic(out, versions[i % 2]);
`;

describe("a checkpoint write killed with SIGKILL", () => {
  let dir: string;
  let writer: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tips-kill-"));
    writer = join(dir, "writer.mjs");
    await build({
      stdin: { contents: WRITER, loader: "ts", resolveDir: process.cwd() },
      bundle: true,
      platform: "node",
      format: "esm",
      outfile: writer,
      logLevel: "silent",
    });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(`leaves the previous checkpoint whole (${TRIALS} trials)`, async () => {
    const a = new Uint8Array(await readFile(FIXTURE));
    const { tensors, metadata } = decodeSafetensors(a);
    const b = encodeSafetensors(Object.fromEntries(tensors), { ...metadata, version: "b" });
    await writeFile(join(dir, "a"), a);
    await writeFile(join(dir, "b"), b);
    const out = join(dir, "run.safetensors");
    await writeFile(out, a); // the checkpoint of an earlier save

    let killedMidWrite = 0; // trials whose kill left the temporary file behind
    const delays: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const child = spawn(process.execPath, [writer, out, join(dir, "a"), join(dir, "b")], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      await new Promise<void>((ready) => child.stdout.once("data", () => ready()));
      const delay = Math.random() * 50;
      delays.push(delay);
      await new Promise((wait) => setTimeout(wait, delay));
      const exited = new Promise((done) => child.once("exit", done));
      child.kill("SIGKILL");
      await exited;

      const bytes = new Uint8Array(await readFile(out));
      const whole = Buffer.compare(bytes, a) === 0 || Buffer.compare(bytes, b) === 0;
      expect(whole, `trial ${trial}: killed after ${delay.toFixed(1)} ms, ${bytes.length} bytes`).toBe(true);
      expect(readCheckpoint(bytes).info.state.step).toBe(80);
      const temps = (await readdir(dir)).filter((name) => name.endsWith(".tmp"));
      if (temps.length > 0) killedMidWrite++;
      for (const name of temps) await rm(join(dir, name));
    }
    // The kills land inside writes (between creating the temporary file and the rename), not
    // only between them: otherwise this test would prove nothing.
    expect(killedMidWrite, `kill delays ${delays.map((d) => d.toFixed(0)).join(", ")} ms`).toBeGreaterThan(
      TRIALS / 4,
    );
  });
});
