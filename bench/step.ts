// Whole training steps: images/s of Trainer.trainStep (crops on the GPU, student with masks, text
// encoder twice, teacher, local crops, heads, the combined loss, backward, clipping, AdamW, EMA)
// on a fixed set of scenes rendered beforehand, so that data preparation is not timed, and the
// peak of GPU storage (buffer pool and parameter slabs) the run needed. The
// PyTorch reference (bench/reference/tips_step.py) trains the same model and losses from the
// configurations this file writes with --write-step-configs.
import { ScenesSource } from "../src/data/examples";
import { describeScene } from "../src/data/scenes";
import { Vocabulary } from "../src/data/vocab";
import type { Gpu } from "../src/gpu/gpu";
import { preset, type TipsConfig } from "../src/tips/config";
import { Trainer, trainerOptions } from "../src/train/trainer";
import type { Row } from "./table";

export interface StepShape {
  name: string;
  preset: string;
  batch: number;
  /** Overrides of the preset's training views and image size (e.g. ViT-S/14 at 224 + 6 x 98). */
  imageSize?: number;
  localSize?: number;
  localCrops?: number;
}

export interface StepConfig {
  name: string;
  batch: number;
  config: TipsConfig;
}

export function stepConfig(s: StepShape): StepConfig {
  const config = preset(s.preset);
  if (s.imageSize) config.vision.imageSize = s.imageSize;
  if (s.localSize) config.views.localSize = s.localSize;
  if (s.localCrops) config.views.localCrops = s.localCrops;
  return { name: `${s.name} batch ${s.batch}`, batch: s.batch, config };
}

export async function benchStep(gpu: Gpu, shapes: StepShape[], small: boolean): Promise<Row[]> {
  const rows: Row[] = [];
  for (const shape of shapes) {
    const { name, batch, config } = stepConfig(shape);
    gpu.pool.trim();
    gpu.pool.resetPeak();
    const captions = Array.from(
      { length: 200 },
      (_, i) => describeScene(i, { split: "train" }).syntheticCaption,
    );
    const vocab = Vocabulary.build(captions, config.text.vocabSize);
    const trainer = new Trainer(gpu, trainerOptions(config, { batch, steps: 1000 }), vocab);
    const source = new ScenesSource({ size: Math.round((config.vision.imageSize * 1.5) / 8) * 8 });
    const pool = [await source.next(batch), await source.next(batch)];
    const steps = small ? 2 : 10;
    // Warm-up (pipelines, buffer pool), then steps with two in flight, as tips train runs them.
    await trainer.trainStep(pool[0]);
    const samples: number[] = [];
    for (let r = 0; r < 3; r++) {
      const start = performance.now();
      const pending = [];
      for (let s = 0; s < steps; s++) pending.push(trainer.trainStep(pool[s % 2]));
      await Promise.all(pending);
      samples.push((performance.now() - start) / steps);
    }
    const memoryMiB = gpu.pool.peakBytes / 2 ** 20;
    trainer.dispose();
    samples.sort((a, b) => a - b);
    rows.push({ group: "step", name, ms: samples[1], flops: 0, images: batch, memoryMiB });
  }
  return rows;
}
