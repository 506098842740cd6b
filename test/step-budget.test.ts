// What one training step records, per configuration of `npm run bench -- counts`, held to a
// budget: a change that adds dispatches, bind groups, passes or memory fails here. Counted on a
// dry Gpu (every call made, no workgroups run), so the figures are the same on any adapter.
// Lower a budget when a change lowers its figure; never raise one to make a test pass.
import { beforeAll, describe, expect, it } from "vitest";
import { COUNTED, countStep } from "../bench/counts";
import { DRY_DAWN_FLAGS, dawnGpu } from "../src/gpu/dawn";
import { Gpu } from "../src/gpu/gpu";
import { DEFAULT_LOSS } from "../src/tips/loss";

/**
 * The most one step may record, counted on SwiftShader (another adapter's limits can pick other
 * kernel variants). Bind groups are budgeted below, as a share of the dispatches. Peak: the
 * buffer pool's bytes during the step.
 */
const BUDGET: Record<string, { dispatches: number; passesPerSubmit: number; peakBytes: number }> = {
  "tips-test": { dispatches: 565, passesPerSubmit: 1, peakBytes: 2_865_072 },
  "tips-micro": { dispatches: 1096, passesPerSubmit: 1, peakBytes: 460_148_208 },
  "vit-s14": { dispatches: 2013, passesPerSubmit: 1, peakBytes: 3_925_451_360 },
};
/** Bind groups created in a step after the warm-up steps, as a share of its dispatches. */
const BIND_GROUP_SHARE = 0.02;
/** Dispatches of tips-micro's second (masked) student pass, batch 8. */
const MASKED_PASS = 287;
/** Accumulating gradients over micro-batches may not raise the peak by more than this. */
const ACCUMULATION_PEAK = 1.15;

describe("training step budget", () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await Gpu.create({ gpu: await dawnGpu(DRY_DAWN_FLAGS), dry: true });
  });

  for (const [config, budget] of Object.entries(BUDGET)) {
    it(`${config}: dispatches, bind groups, passes and peak memory within budget`, async () => {
      const shape = COUNTED.find((c) => c.config === config)?.shape;
      if (!shape) throw new Error(`no counted configuration "${config}"`);
      const c = await countStep(gpu, config, shape);
      expect(c.dispatches).toBeLessThanOrEqual(budget.dispatches);
      expect(c.bindGroups).toBeLessThanOrEqual(BIND_GROUP_SHARE * c.dispatches);
      expect(c.passes).toBeLessThanOrEqual(budget.passesPerSubmit * c.submits);
      expect(c.peakBytes).toBeLessThanOrEqual(budget.peakBytes);
    }, 600_000);
  }

  // CLIP reads the unmasked global crop and iBOT the masked one (docs/losses.md): with MIM on, the
  // student runs the global crops twice. What that second pass costs, held like the rest.
  it(`tips-micro: the masked student pass adds at most ${MASKED_PASS} dispatches`, async () => {
    const shape = { name: "tips-micro", preset: "tips-micro", batch: 8 };
    const all = await countStep(gpu, "tips-micro", shape);
    const noMim = await countStep(gpu, "tips-micro, MIM off", shape, { ...DEFAULT_LOSS.weights, mim: 0 });
    console.log(`tips-micro batch 8: ${all.dispatches} dispatches, ${noMim.dispatches} with MIM off`);
    expect(all.dispatches - noMim.dispatches).toBeGreaterThan(0);
    expect(all.dispatches - noMim.dispatches).toBeLessThanOrEqual(MASKED_PASS);
  }, 600_000);

  // Gradients add up in place and each micro-batch's activations go during its backward.
  it(`4 micro-batches of 2 peak within ${ACCUMULATION_PEAK}x of one micro-batch of 2`, async () => {
    const one = await countStep(gpu, "tips-test b2", { name: "tips-test", preset: "tips-test", batch: 2 });
    const four = await countStep(gpu, "tips-test b8/4", {
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
