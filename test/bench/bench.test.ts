// `npm run bench` end to end on tiny shapes (SwiftShader): every row is timed and printed, and a
// PyTorch reference file is merged into the table with its ratio. No timing is asserted.
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import shapes from "../../bench/shapes.json";
import { benchStep, type StepShape, stepConfig } from "../../bench/step";
import type { Failure, Row } from "../../bench/table";
import { checkAttention, checkProduct } from "../../bench/verify";
import { DEFAULT_DATA_WORKERS } from "../../src/cli/data";
import { checkTrainingFits } from "../../src/train/fits";
import { testGpu } from "../helpers/gpu";

it("npm run bench -- --small times every matmul, attention and training-step row and merges a reference", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tips-bench-"));
  const reference = { matmul: { "small odd 33x65x17 fwd A B": 0.5 } };
  await writeFile(join(dir, "ref.json"), JSON.stringify(reference));
  const r = spawnSync(
    process.execPath,
    ["scripts/bench.mjs", "--small", "--reference", join(dir, "ref.json"), "--json", join(dir, "out.json")],
    { encoding: "utf8" },
  );
  expect(r.status, r.stdout + r.stderr).toBe(0);
  const { rows } = JSON.parse(await readFile(join(dir, "out.json"), "utf8")) as { rows: Row[] };
  expect(rows.map((x) => x.name)).toEqual([
    "small odd 33x65x17 fwd A B",
    "small odd 33x65x17 bwd dC B^T",
    "small odd 33x65x17 bwd A^T dC",
    "small 64x64x64 fwd A B",
    "small 64x64x64 bwd dC B^T",
    "small 64x64x64 bwd A^T dC",
    "small B=2 H=2 S=19 Dh=8 fwd",
    "small B=2 H=2 S=19 Dh=8 fwd+bwd",
    "tips-test batch 4 (2 micro-batches of 2)",
  ]);
  for (const row of rows) expect(row.ms).toBeGreaterThan(0);
  const line = r.stdout.split("\n").find((l) => l.includes("small odd 33x65x17 fwd A B"))!;
  const ours = rows[0].ms;
  expect(line).toContain(`${(0.5 / ours).toFixed(2)}x`);
  expect(r.stdout).toContain("### attention");
  expect(r.stdout).toMatch(
    // Columns are padded to their widest value (a slow step on a loaded machine widens "ours ms").
    /### step\n\n\| case +\| +ours ms \| +ours images\/s \|.* +ours MiB \| +PyTorch MiB \| +ours recording ms \|/,
  );
  const step = rows.at(-1);
  expect(step?.memoryMiB).toBeGreaterThan(0);
  // Recording a step is part of its time: more than nothing, less than the whole.
  expect(step?.recordMs).toBeGreaterThan(0);
  expect(step?.recordMs).toBeLessThan(step?.ms ?? 0);
  // The PyTorch reference of the step rows reads the configurations written here.
  const configs = join(dir, "configs.json");
  const w = spawnSync(process.execPath, ["scripts/bench.mjs", "--small", "--write-step-configs", configs], {
    encoding: "utf8",
  });
  expect(w.status, w.stderr).toBe(0);
  const [entry] = JSON.parse(await readFile(configs, "utf8"));
  expect(entry).toMatchObject({
    name: "tips-test batch 4 (2 micro-batches of 2)",
    batch: 4,
    accumulate: 2,
    config: { name: "tips-test" },
  });
  const bad = spawnSync(process.execPath, ["scripts/bench.mjs", "--frobnicate"], { encoding: "utf8" });
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toContain('unknown argument "--frobnicate"');
  await rm(dir, { recursive: true, force: true });
}, 300_000);

it("npm run bench -- data --small times every data row on the CPU without a GPU, beside a GPU's step rate", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tips-bench-data-"));
  // A GPU run's --json result, as bench.json from the GPU machine: 64 images in 100 ms.
  const gpuRun = join(dir, "gpu.json");
  const step: Row = { group: "step", name: "tips-micro batch 64", ms: 100, flops: 0, images: 64 };
  await writeFile(gpuRun, JSON.stringify({ device: { description: "Test GPU" }, rows: [step] }));
  const r = spawnSync(
    process.execPath,
    ["scripts/bench.mjs", "data", "--small", "--json", join(dir, "out.json"), "--steps-from", gpuRun],
    { encoding: "utf8" },
  );
  expect(r.status, r.stdout + r.stderr).toBe(0);
  const out = JSON.parse(await readFile(join(dir, "out.json"), "utf8")) as {
    device: unknown;
    rows: Row[];
    data: { name: string; samples: number; seconds: number }[];
  };
  expect(out.device).toBeNull(); // no GPU was asked for
  expect(out.rows).toEqual([]);
  const workers = `${DEFAULT_DATA_WORKERS} worker${DEFAULT_DATA_WORKERS > 1 ? "s" : ""}`;
  expect(out.data.map((d) => d.name.split(")")[0])).toEqual([
    `scenes 96 px (rendered, ${workers}`,
    "scenes 96 px (rendered, no worker",
    `scenes 224 px (rendered, ${workers}`,
    "scenes 224 px (rendered, no worker",
    "openmoji 96 px (SVG rasterised + PNG decoded",
    "shards PNG 96 px (tar + shuffle + decode",
    "shards PNG 224 px (tar + shuffle + decode",
    "shards JPEG 224 px (tar + shuffle + decode",
  ]);
  for (const d of out.data) {
    expect(d.samples).toBe(64);
    expect(d.seconds).toBeGreaterThan(0);
  }
  expect(r.stdout).toContain("### data");
  expect(r.stdout).toContain("samples/s");
  expect(r.stdout).toContain("step 1: tips-micro batch 64 on Test GPU consumes 640.0 images/s.");
  // Each row's rate over the step's 640 images/s.
  const scenes = out.data[0];
  const line = r.stdout.split("\n").find((l) => l.startsWith(`| ${scenes.name}`))!;
  expect(line).toMatch(new RegExp(`\\| +${(scenes.samples / scenes.seconds / 640).toFixed(2)}x \\|$`));
  // --scenes-only (for the GPU machine, which has no sharp): the scenes rows alone, here drawn
  // by 2 workers; a worker count below 1 is refused.
  const only = spawnSync(
    process.execPath,
    [
      "scripts/bench.mjs",
      "data",
      "--small",
      "--scenes-only",
      "--data-workers",
      "2",
      "--json",
      join(dir, "only.json"),
    ],
    { encoding: "utf8" },
  );
  expect(only.status, only.stdout + only.stderr).toBe(0);
  const onlyOut = JSON.parse(await readFile(join(dir, "only.json"), "utf8")) as typeof out;
  expect(onlyOut.data.map((d) => d.name)).toEqual(
    out.data.slice(0, 4).map((d) => d.name.replace(workers, "2 workers")),
  );
  const none = spawnSync(process.execPath, ["scripts/bench.mjs", "data", "--data-workers", "0"], {
    encoding: "utf8",
  });
  expect(none.status).toBe(2);
  expect(none.stderr).toContain('--data-workers takes an integer from 1 to 64, got "0"');
  // A file that is not a GPU run's result is refused before anything is measured.
  await writeFile(gpuRun, JSON.stringify({ device: null, rows: [] }));
  const bad = spawnSync(process.execPath, ["scripts/bench.mjs", "data", "--steps-from", gpuRun], {
    encoding: "utf8",
  });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain("it has no training-step rows: run the step group on the GPU");
  await rm(dir, { recursive: true, force: true });
}, 300_000);

it("every full training-step row fits a GPU whose buffers bind at most 2 GiB (the H100 under Dawn)", () => {
  // The largest a "2 GiB" limit can be read as; a row that does not fit would stop the GPU run.
  const limits = { maxStorageBufferBindingSize: 2 ** 31 - 4, maxBufferSize: 2 ** 31 - 4 };
  for (const shape of shapes.step.full as StepShape[]) {
    const { name, batch, accumulate, config } = stepConfig(shape);
    expect(checkTrainingFits(config, batch, accumulate, limits), name).toBeNull();
  }
  // Without its micro-batches, ViT-S/14's iBOT logits (64 x 256 patches x 65,536 prototypes) would not.
  const s14 = stepConfig((shapes.step.full as StepShape[]).find((s) => s.preset === "tips-s14")!);
  expect(checkTrainingFits(s14.config, 64, 1, limits)).toContain("iBOT head's logits");
});

it("a training-step row that does not fit the adapter is reported, and the bench goes on", async () => {
  const gpu = await testGpu();
  const failures: Failure[] = [];
  const tooBig: StepShape = {
    name: "ViT-S/14 in one micro-batch",
    preset: "tips-s14",
    batch: 64,
    imageSize: 224,
  };
  expect(await benchStep(gpu, [tooBig], false, failures)).toEqual([]);
  expect(failures).toEqual([
    {
      group: "step",
      name: "ViT-S/14 in one micro-batch batch 64",
      error: expect.stringContaining("cannot hold"),
    },
  ]);
});

it("the bench's result check passes a right product and names a wrong entry", () => {
  const [m, k, n] = [5, 7, 3];
  const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i));
  const b = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i));
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) for (let t = 0; t < k; t++) c[i * n + j] += a[i * k + t] * b[t * n + j];
  const check = (got: Float32Array) =>
    checkProduct(
      got,
      m,
      n,
      k,
      (i, t) => a[i * k + t],
      (t, j) => b[t * n + j],
    );
  expect(check(c)).toBeNull();
  c[(m - 1) * n + n - 1] += 0.01; // a corner: always sampled
  expect(check(c)).toMatch(/^wrong result at \[4, 2\]: /);
});

it("the bench's attention check names a wrong output", () => {
  const shape = { batch: 1, heads: 2, seq: 3, dim: 2 };
  const inputs = {
    q: new Float32Array(12).fill(0.5),
    k: new Float32Array(12).fill(0.5),
    v: new Float32Array(12).fill(1),
  };
  // Equal keys: every output row is the mean of the values, 1.
  expect(checkAttention(inputs, shape, [new Float32Array(12).fill(1)])).toBeNull();
  expect(checkAttention(inputs, shape, [new Float32Array(12)])).toBe(
    "wrong output in slice 0, entry 0: 0, float64 gives 1",
  );
});
