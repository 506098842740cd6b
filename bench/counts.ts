// What a training step records, counted in dry mode (every call made, no workgroups run), so it
// runs on any adapter, SwiftShader included: dispatches, bind groups created, compute passes,
// copies and writeBuffer calls of one step after two warm-up steps, the CPU time spent recording
// a step (trainStep's synchronous part), and the most storage the pool held. Then the cost of one
// Gpu.dispatch against the same dispatch made straight on Dawn with a bind group made in advance.
import { ScenesSource } from "../src/data/examples";
import { describeScene } from "../src/data/scenes/scene";
import { Vocabulary } from "../src/data/text/vocab";
import type { Gpu, GpuCounts } from "../src/gpu/gpu";
import { kernel } from "../src/gpu/kernel";
import type { LossWeights } from "../src/tips/loss";
import { Trainer, trainerOptions } from "../src/train/trainer";
import { type StepShape, stepConfig } from "./step";

export interface CountsRow {
  config: string;
  dispatches: number;
  bindGroups: number;
  passes: number;
  copies: number;
  writes: number;
  recordMsMin: number;
  recordMsMedian: number;
  peakBytes: number;
}

/**
 * A counts row, the step's submissions and the pipelines compiled for its warm-up steps (printed;
 * not in the JSON, whose fields are fixed). On a fresh Gpu those are every pipeline a step uses,
 * compiled before a model's first step; after other rows, only those the rows above lacked.
 */
export type StepCounts = CountsRow & { submits: number; newPipelines: number };

export interface DispatchCostRow {
  config: "dispatch-cost";
  engineUs: number;
  rawUs: number;
  ratio: number;
}

const VIT_S14 = { preset: "tips-s14", imageSize: 224, localSize: 98, localCrops: 6 };

/** The configurations counted, by the `config` name of their row. */
export const COUNTED: { config: string; shape: StepShape }[] = [
  { config: "tips-test", shape: { name: "tips-test", preset: "tips-test", batch: 4 } },
  { config: "tips-micro", shape: { name: "tips-micro", preset: "tips-micro", batch: 8 } },
  { config: "vit-s14", shape: { name: "ViT-S/14", ...VIT_S14, batch: 2 } },
  { config: "vit-s14-accum4", shape: { name: "ViT-S/14", ...VIT_S14, batch: 8, accumulate: 4 } },
];

const WARM_UP_STEPS = 2;
const TIMED_STEPS = 3;

function countsSince(gpu: Gpu, before: GpuCounts): GpuCounts {
  const c = gpu.counts;
  return {
    dispatches: c.dispatches - before.dispatches,
    bindGroups: c.bindGroups - before.bindGroups,
    passes: c.passes - before.passes,
    copies: c.copies - before.copies,
    writes: c.writes - before.writes,
    submits: c.submits - before.submits,
    pipelines: c.pipelines - before.pipelines,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Counts one step of `shape` on a dry Gpu; every timed step must record the same counts. */
export async function countStep(
  gpu: Gpu,
  config: string,
  shape: StepShape,
  weights?: LossWeights,
): Promise<StepCounts> {
  if (!gpu.dry) throw new Error("countStep needs a Gpu made with { dry: true }");
  const { batch, accumulate, config: model } = stepConfig(shape);
  gpu.pool.trim();
  gpu.pool.resetPeak();
  // What earlier jobs left (upload buffers) is not this step's: the figure is the same in any order.
  const before = gpu.pool.bytesCreated;
  const captions = Array.from(
    { length: 200 },
    (_, i) => describeScene(i, { split: "train" }).syntheticCaption,
  );
  const vocab = Vocabulary.build(captions, model.text.vocabSize);
  const trainer = new Trainer(
    gpu,
    trainerOptions(model, { batch, accumulate, steps: 1000, ...(weights ? { weights } : {}) }),
    vocab,
  );
  try {
    const source = new ScenesSource({ size: Math.round((model.vision.imageSize * 1.5) / 8) * 8 });
    const examples = await source.next(batch);
    const pipelinesBefore = gpu.counts.pipelines;
    for (let s = 0; s < WARM_UP_STEPS; s++) await trainer.trainStep(examples);
    const newPipelines = gpu.counts.pipelines - pipelinesBefore;
    const recordMs: number[] = [];
    let counts: GpuCounts | null = null;
    for (let s = 0; s < TIMED_STEPS; s++) {
      const before = { ...gpu.counts };
      const start = performance.now();
      const done = trainer.trainStep(examples);
      recordMs.push(performance.now() - start);
      const step = countsSince(gpu, before);
      if (counts && JSON.stringify(step) !== JSON.stringify(counts))
        throw new Error(
          `${config}: two steps recorded different counts (${JSON.stringify(counts)}, ${JSON.stringify(step)})`,
        );
      counts = step;
      await done;
    }
    const c = counts as GpuCounts;
    return {
      config,
      dispatches: c.dispatches,
      bindGroups: c.bindGroups,
      passes: c.passes,
      copies: c.copies,
      writes: c.writes,
      submits: c.submits,
      recordMsMin: Math.min(...recordMs),
      recordMsMedian: median(recordMs),
      peakBytes: gpu.pool.peakBytes - before,
      newPipelines,
    };
  } finally {
    trainer.dispose();
    await gpu.sync();
    gpu.pool.trim();
  }
}

const costCode = /* wgsl */ `
struct Params { n: u32, alpha: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < p.n) { out[id.x] = a[id.x] + p.alpha * b[id.x]; }
}`;

/** The process's CPU time in microseconds (other processes' load does not count). */
function cpuMicroseconds(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * Microseconds of CPU time per dispatch: Gpu.dispatch (parameters packed, bind group found or
 * made, recorded) against Dawn's own setPipeline + setBindGroup + dispatchWorkgroups with a bind
 * group made in advance. Both dispatch the same pipeline source with as many workgroups (none on
 * a dry Gpu); the two alternate, and each figure is the median of 7 repetitions of 2,000
 * dispatches, in the process's CPU time (so that other jobs on the machine do not count).
 */
export async function dispatchCost(gpu: Gpu): Promise<DispatchCostRow> {
  const N = 2000;
  const REPEATS = 7;
  const add = kernel({
    name: "bench.add",
    code: costCode,
    params: { n: "u32", alpha: "f32" },
    bindings: ["a", "b", "out"],
  });
  const [a, b, out] = [gpu.alloc(256), gpu.alloc(256), gpu.alloc(256)];
  const workgroups = gpu.dry ? 0 : 1;
  const device = gpu.device;
  const module = device.createShaderModule({ code: costCode });
  const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  const uniform = device.createBuffer({ size: 256, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [uniform, a, b, out].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const engine: number[] = [];
  const raw: number[] = [];
  for (let r = 0; r < REPEATS + 1; r++) {
    let start = cpuMicroseconds();
    for (let i = 0; i < N; i++)
      gpu.dispatch({
        kernel: add,
        params: { n: 64, alpha: 0.5 },
        buffers: { a, b, out },
        workgroups: [workgroups],
      });
    if (r > 0) engine.push((cpuMicroseconds() - start) / N); // the first warms the caches
    gpu.flush();
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    start = cpuMicroseconds();
    for (let i = 0; i < N; i++) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(workgroups);
    }
    if (r > 0) raw.push((cpuMicroseconds() - start) / N);
    pass.end();
    device.queue.submit([encoder.finish()]);
  }
  await gpu.sync();
  uniform.destroy();
  for (const buffer of [a, b, out]) gpu.release(buffer);
  const engineUs = median(engine);
  const rawUs = median(raw);
  return { config: "dispatch-cost", engineUs, rawUs, ratio: engineUs / rawUs };
}

/** The JSON row of a step: exactly the fields of CountsRow. */
export function countsRow(c: StepCounts): CountsRow {
  const { config, dispatches, bindGroups, passes, copies, writes, recordMsMin, recordMsMedian, peakBytes } =
    c;
  return { config, dispatches, bindGroups, passes, copies, writes, recordMsMin, recordMsMedian, peakBytes };
}

export function formatCounts(rows: StepCounts[], cost: DispatchCostRow): string {
  const header = [
    "per step",
    "dispatches",
    "bind groups",
    "passes",
    "submits",
    "copies",
    "writes",
    "recording ms (min, median)",
    "pool peak MiB",
    "new pipelines",
  ];
  const lines = rows.map((r) => [
    r.config,
    String(r.dispatches),
    String(r.bindGroups),
    String(r.passes),
    String(r.submits),
    String(r.copies),
    String(r.writes),
    `${r.recordMsMin.toFixed(1)}, ${r.recordMsMedian.toFixed(1)}`,
    (r.peakBytes / 2 ** 20).toFixed(0),
    String(r.newPipelines),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
  return [
    fmt(header),
    `| ${widths.map((w, i) => (i === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)).join(" | ")} |`,
    ...lines.map(fmt),
    "",
    `dispatch cost: engine ${cost.engineUs.toFixed(2)} us, raw Dawn ${cost.rawUs.toFixed(2)} us, ratio ${cost.ratio.toFixed(2)}x`,
  ].join("\n");
}
