// What one training step records, per configuration of `npm run bench -- counts`, held to a
// budget: a change that adds dispatches, bind groups, passes or memory fails here. Counted on a
// dry Gpu (every call made, no workgroups run), once with the kernels a GPU runs and once with a
// CPU adapter's (Gpu.kernelTarget), so the figures are the same on any adapter.
// Lower a budget when a change lowers its figure; never raise one to make a test pass.
import { beforeAll, describe, expect, it } from "vitest";
import { COUNTED, countStep } from "../../bench/counts";
import { DRY_DAWN_FLAGS, dawnGpu } from "../../src/gpu/dawn";
import { Gpu, type KernelTarget } from "../../src/gpu/gpu";
import { DEFAULT_LOSS } from "../../src/tips/loss";

/**
 * The most one step may record, counted on SwiftShader (another adapter's limits can pick other
 * kernel variants). Bind groups are budgeted below, as a share of the dispatches. Peak: the
 * buffer pool's bytes during the step (2026-12-05: the student's two views of the global crops
 * as one batch of 2B, both captions uploaded as one text batch, activations released during the
 * backward, an MLP's hidden activation recomputed by its weight gradient instead of kept, a
 * layernorm's output normalised by the products that read it instead of written, the heads'
 * normalised prototypes made again by the backward instead of kept, the parameter slabs fitted
 * to what they hold, a request served by a free buffer up to 1.5x its size).
 * Dispatches per kernel target: a CPU adapter's step records one more for each weight gradient
 * whose B is loaded through a layernorm or an activation (written out first, for the direct
 * product: src/ops/matmul.ts bLoaded; a weight gradient 2-3x faster on SwiftShader).
 */
const BUDGET: Record<
  string,
  { dispatches: Record<KernelTarget, number>; passesPerSubmit: number; peakBytes: number }
> = {
  // First: on a fresh Gpu, its pipelines are all those a tips-test step compiles (PIPELINES).
  "tips-test": { dispatches: { gpu: 413, cpu: 428 }, passesPerSubmit: 1, peakBytes: 2_492_400 },
  "tips-micro": { dispatches: { gpu: 735, cpu: 783 }, passesPerSubmit: 1, peakBytes: 344_046_768 },
  "vit-s14": { dispatches: { gpu: 1312, cpu: 1420 }, passesPerSubmit: 1, peakBytes: 3_098_789_040 },
};
/**
 * Pipelines a tips-test step compiles before it runs: each is seconds of SwiftShader's compiler
 * and the wait before the first step in a page. Choices that act once per output (a matmul's
 * epilogue, attention's key mask) are parameters, not override constants, so they add none. A
 * product's layernorm on load acts on every loaded element and is a constant (A_NORM, B_NORM of
 * kernels/matmul.wgsl): 59. A CPU adapter's 64: attention's workgroup width fitted to each
 * sequence (`attentionThreads` of src/ops/attention.ts) is an override constant, 3 more (each a
 * compiled module at another width, 0.2-0.3 s; the tips-micro step 27.5 s -> 24.9 s on
 * SwiftShader), and the row kernels' workgroups as narrow as 4 threads (src/ops/rows.ts) 2 more.
 */
const PIPELINES: Record<KernelTarget, number> = { gpu: 59, cpu: 64 };
/** Bind groups created in a step after the warm-up steps, as a share of its dispatches. */
const BIND_GROUP_SHARE = 0.02;
/** Dispatches that tips-micro's masked view of the global crops adds (batch 8; 287 as a pass of its own). */
const MASKED_VIEW = 66;
/** Accumulating gradients over micro-batches may not raise the peak by more than this. */
const ACCUMULATION_PEAK = 1.15;

describe("training step budget", () => {
  const gpus = {} as Record<KernelTarget, Gpu>;
  beforeAll(async () => {
    for (const target of ["gpu", "cpu"] as const) {
      gpus[target] = await Gpu.create({
        gpu: await dawnGpu(DRY_DAWN_FLAGS),
        dry: true,
        kernelTarget: target,
      });
    }
  });

  for (const target of ["gpu", "cpu"] as const) {
    for (const [config, budget] of Object.entries(BUDGET)) {
      it(`${config}, ${target} kernels: dispatches, bind groups, passes and peak memory within budget`, async () => {
        const gpu = gpus[target];
        const shape = COUNTED.find((c) => c.config === config)?.shape;
        if (!shape) throw new Error(`no counted configuration "${config}"`);
        const fresh = gpu.counts.pipelines === 0;
        const c = await countStep(gpu, config, shape);
        console.log(
          `${config}, ${target} kernels: ${c.dispatches} dispatches, ${c.bindGroups} bind groups, peak ${c.peakBytes} bytes, ${c.newPipelines} new pipelines`,
        );
        if (config === "tips-test") {
          expect(fresh, "tips-test is counted first, on a Gpu that has compiled nothing").toBe(true);
          expect(c.newPipelines).toBeLessThanOrEqual(PIPELINES[target]);
        }
        expect(c.dispatches).toBeLessThanOrEqual(budget.dispatches[target]);
        expect(c.bindGroups).toBeLessThanOrEqual(BIND_GROUP_SHARE * c.dispatches);
        expect(c.passes).toBeLessThanOrEqual(budget.passesPerSubmit * c.submits);
        expect(c.peakBytes).toBeLessThanOrEqual(budget.peakBytes);
      }, 600_000);
    }
  }

  // CLIP reads the unmasked global crop and iBOT the masked one (docs/losses.md): with MIM on, the
  // student sees the global crops twice, in one batch of 2B. What the masked half (and the iBOT
  // head and loss) costs, held like the rest.
  it(`tips-micro: the masked student view adds at most ${MASKED_VIEW} dispatches`, async () => {
    const shape = { name: "tips-micro", preset: "tips-micro", batch: 8 };
    const all = await countStep(gpus.gpu, "tips-micro", shape);
    const noMim = await countStep(gpus.gpu, "tips-micro, MIM off", shape, {
      ...DEFAULT_LOSS.weights,
      mim: 0,
    });
    console.log(`tips-micro batch 8: ${all.dispatches} dispatches, ${noMim.dispatches} with MIM off`);
    expect(all.dispatches - noMim.dispatches).toBeGreaterThan(0);
    expect(all.dispatches - noMim.dispatches).toBeLessThanOrEqual(MASKED_VIEW);
  }, 600_000);

  // Gradients add up in place and each micro-batch's activations go during its backward.
  it(`4 micro-batches of 2 peak within ${ACCUMULATION_PEAK}x of one micro-batch of 2`, async () => {
    const one = await countStep(gpus.gpu, "tips-test b2", {
      name: "tips-test",
      preset: "tips-test",
      batch: 2,
    });
    const four = await countStep(gpus.gpu, "tips-test b8/4", {
      name: "tips-test",
      preset: "tips-test",
      batch: 8,
      accumulate: 4,
    });
    expect(four.peakBytes, `${four.peakBytes} bytes against ${one.peakBytes}`).toBeLessThanOrEqual(
      ACCUMULATION_PEAK * one.peakBytes,
    );
    expect(four.passes).toBeLessThanOrEqual(four.submits);
  }, 600_000);
});
