// What one training step records, per configuration of `npm run bench -- counts`, held to a
// budget: a change that adds dispatches, bind groups, passes or memory fails here. Counted on a
// dry Gpu (every call made, no workgroups run), so the figures are the same on any adapter.
// Lower a budget when a change lowers its figure; never raise one to make a test pass.
import { beforeAll, describe, expect, it } from "vitest";
import { COUNTED, countStep } from "../bench/counts";
import { DRY_DAWN_FLAGS, dawnGpu } from "../src/gpu/dawn";
import { Gpu } from "../src/gpu/gpu";

/**
 * The most one step may record, counted on SwiftShader (another adapter's limits can pick other
 * kernel variants). Bind groups are budgeted below, as a share of the dispatches.
 */
const BUDGET: Record<string, { dispatches: number; passesPerSubmit: number; peakBytes: number }> = {
  "tips-test": { dispatches: 744, passesPerSubmit: 1, peakBytes: 6_620_096 },
  "tips-micro": { dispatches: 1756, passesPerSubmit: 1, peakBytes: 1_128_416_704 },
  "vit-s14": { dispatches: 3725, passesPerSubmit: 1, peakBytes: 6_672_071_584 },
};
/** Bind groups created in a step after the warm-up steps, as a share of its dispatches. */
const BIND_GROUP_SHARE = 0.02;

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
});
