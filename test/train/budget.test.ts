// What one training step records, held to a budget: dispatches and the buffer pool's peak are
// deterministic for a preset and batch, so a change that adds either fails here (lower the budget
// when a change saves some). The step is recorded with each dispatch counted but not encoded (no
// GPU work: only the CPU side and the buffer hand-out run), after one warm-up step.
import { describe, expect, it } from "vitest";
import { ScenesSource } from "../../src/data/examples";
import { describeScene } from "../../src/data/scenes";
import { Vocabulary } from "../../src/data/vocab";
import type { Gpu } from "../../src/gpu/gpu";
import { preset } from "../../src/tips/config";
import { Trainer, trainerOptions } from "../../src/train/trainer";
import { testGpu } from "../gpu";

interface StepCounts {
  dispatches: number;
  peakMiB: number;
}

async function countStep(gpu: Gpu, name: string, batch: number, accumulate = 1): Promise<StepCounts> {
  const config = preset(name);
  const captions = Array.from(
    { length: 200 },
    (_, i) => describeScene(i, { split: "train" }).syntheticCaption,
  );
  const vocab = Vocabulary.build(captions, config.text.vocabSize);
  const trainer = new Trainer(gpu, trainerOptions(config, { batch, accumulate, steps: 100 }), vocab);
  const examples = await new ScenesSource({ size: config.vision.imageSize * 2 }).next(batch);
  gpu.pool.trim(); // the peak counts this step's buffers only
  const dispatch = gpu.dispatch;
  gpu.dispatch = () => {
    gpu.dispatchCount++;
  };
  try {
    await trainer.trainStep(examples);
    gpu.pool.resetPeak();
    const before = gpu.dispatchCount;
    await trainer.trainStep(examples);
    return { dispatches: gpu.dispatchCount - before, peakMiB: gpu.pool.peakBytes / 2 ** 20 };
  } finally {
    gpu.dispatch = dispatch;
    trainer.dispose();
  }
}

describe("one training step's budget", () => {
  it.each([
    // Before the attention layouts, the single text pass, gradients summed in place and the
    // LayerScale residual (2026-12-05): 666 dispatches, 6.3 MiB.
    { name: "tips-test", batch: 4, dispatches: 448, peakMiB: 2.8 },
    // Before: 1,586 dispatches, 1,075 MiB.
    { name: "tips-micro", batch: 8, dispatches: 847, peakMiB: 430 },
  ])(
    "$name batch $batch: at most $dispatches dispatches and $peakMiB MiB",
    async (c) => {
      const gpu = await testGpu();
      const got = await countStep(gpu, c.name, c.batch);
      expect(got.dispatches, `${got.dispatches} dispatches`).toBeLessThanOrEqual(c.dispatches);
      expect(got.peakMiB, `${got.peakMiB.toFixed(2)} MiB`).toBeLessThanOrEqual(c.peakMiB);
    },
    300_000,
  );

  // Gradients add up in place and each micro-batch's activations go before the next one runs.
  it("gradient accumulation does not raise the peak: 4 micro-batches of 2 within 1.15x of one", async () => {
    const gpu = await testGpu();
    const one = await countStep(gpu, "tips-test", 2);
    const four = await countStep(gpu, "tips-test", 8, 4);
    expect(
      four.peakMiB,
      `${four.peakMiB.toFixed(2)} MiB against ${one.peakMiB.toFixed(2)}`,
    ).toBeLessThanOrEqual(1.15 * one.peakMiB);
  }, 300_000);
});
