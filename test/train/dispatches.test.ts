// Dispatches recorded by one tips-micro training step (the figures docs/losses.md quotes): with
// the four TIPS terms, the student runs the global crops twice (unmasked for CLIP, masked for
// iBOT); with MIM off, once. A step records the same dispatches every time, whatever the data.
import { expect, it } from "vitest";
import { ScenesSource } from "../../src/data/examples";
import { describeScene } from "../../src/data/scenes";
import { Vocabulary } from "../../src/data/vocab";
import { preset } from "../../src/tips/config";
import { DEFAULT_LOSS } from "../../src/tips/loss";
import { Trainer, trainerOptions } from "../../src/train/trainer";
import { testGpu } from "../gpu";

const BATCH = 2;

it("counts the dispatches of a tips-micro step with and without the masked view", async () => {
  const gpu = await testGpu();
  const config = preset("tips-micro");
  const captions = Array.from(
    { length: 50 },
    (_, i) => describeScene(i, { split: "train" }).syntheticCaption,
  );
  const vocab = Vocabulary.build(captions, config.text.vocabSize);
  const source = new ScenesSource({ size: 96 });
  const counts: Record<string, number[]> = {};
  for (const [name, mim] of [
    ["web+syn+dino+mim", 1],
    ["web+syn+dino (MIM off)", 0],
  ] as const) {
    const weights = { ...DEFAULT_LOSS.weights, mim };
    const trainer = new Trainer(gpu, trainerOptions(config, { batch: BATCH, steps: 10, weights }), vocab);
    counts[name] = [];
    for (let s = 0; s < 2; s++) {
      const examples = await source.next(BATCH);
      const before = gpu.dispatchCount;
      const metrics = trainer.trainStep(examples);
      counts[name].push(gpu.dispatchCount - before);
      await metrics;
    }
    trainer.dispose();
  }
  console.table(counts);
  const [withMim, withoutMim] = Object.values(counts);
  expect(withMim[1]).toBe(withMim[0]);
  expect(withoutMim[1]).toBe(withoutMim[0]);
  expect(withMim[0]).toBeGreaterThan(withoutMim[0]);
}, 600_000);
