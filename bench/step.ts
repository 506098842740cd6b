// Whole training steps: images/s of Trainer.trainStep (crops on the GPU, student on the global
// crop and its masked view, text encoder twice, teacher, local crops, heads, the combined loss,
// backward, clipping, AdamW, EMA)
// on a fixed set of scenes rendered beforehand, so that data preparation is not timed, and the
// peak of GPU storage (buffer pool and parameter slabs) the run needed. The
// PyTorch reference (bench/reference/tips_step.py) trains the same model and losses from the
// configurations this file writes with --write-step-configs.
import { ScenesSource } from "../src/data/examples";
import { describeScene } from "../src/data/scenes/scene";
import { Vocabulary } from "../src/data/text/vocab";
import type { Gpu } from "../src/gpu/gpu";
import { preset, type TipsConfig } from "../src/tips/config";
import { Trainer, trainerOptions } from "../src/train/trainer";
import type { Failure, Row } from "./table";

export interface StepShape {
  name: string;
  preset: string;
  batch: number;
  /** Overrides of the preset's training views and image size (e.g. ViT-S/14 at 224 + 6 x 98). */
  imageSize?: number;
  localSize?: number;
  localCrops?: number;
  /**
   * Micro-batches per step (default 1), where a micro-batch of `batch` would need a buffer beyond
   * the adapter's binding limit (checkTrainingFits); the PyTorch reference splits its step alike.
   */
  accumulate?: number;
}

export interface StepConfig {
  name: string;
  batch: number;
  accumulate: number;
  config: TipsConfig;
}

export function stepConfig(s: StepShape): StepConfig {
  const config = preset(s.preset);
  if (s.imageSize) config.vision.imageSize = s.imageSize;
  if (s.localSize) config.views.localSize = s.localSize;
  if (s.localCrops) config.views.localCrops = s.localCrops;
  const accumulate = s.accumulate ?? 1;
  const split = accumulate > 1 ? ` (${accumulate} micro-batches of ${s.batch / accumulate})` : "";
  return { name: `${s.name} batch ${s.batch}${split}`, batch: s.batch, accumulate, config };
}

/** Times each shape; one that fails is reported in `failures` and the others still run. */
export async function benchStep(
  gpu: Gpu,
  shapes: StepShape[],
  small: boolean,
  failures: Failure[],
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const shape of shapes) {
    const { name } = stepConfig(shape);
    try {
      rows.push(await benchOneStep(gpu, shape, small));
    } catch (err) {
      failures.push({ group: "step", name, error: (err as Error).message });
      console.error(`step "${name}" did not run: ${(err as Error).message}`);
    }
  }
  return rows;
}

async function benchOneStep(gpu: Gpu, shape: StepShape, small: boolean): Promise<Row> {
  const { name, batch, accumulate, config } = stepConfig(shape);
  gpu.pool.trim();
  gpu.pool.resetPeak();
  const captions = Array.from(
    { length: 200 },
    (_, i) => describeScene(i, { split: "train" }).syntheticCaption,
  );
  const vocab = Vocabulary.build(captions, config.text.vocabSize);
  const trainer = new Trainer(gpu, trainerOptions(config, { batch, accumulate, steps: 1000 }), vocab);
  try {
    const source = new ScenesSource({ size: Math.round((config.vision.imageSize * 1.5) / 8) * 8 });
    const pool = [await source.next(batch), await source.next(batch)];
    // Warm-up (pipelines, buffer pool), then one step alone to size the repetitions (about 20 s
    // in all, 2 to 10 steps each, so a slow configuration cannot eat the device's time limit),
    // then steps with two in flight, as tips train runs them.
    await trainer.trainStep(pool[0]);
    const once = performance.now();
    await trainer.trainStep(pool[1]);
    const estimate = performance.now() - once;
    const steps = small ? 2 : Math.max(2, Math.min(10, Math.floor(20_000 / (3 * estimate))));
    // Beside each repetition's time per step, the CPU time spent recording a step (trainStep's
    // synchronous part): near the step's time, the step is bound by recording, not by the GPU.
    const samples: { ms: number; recordMs: number }[] = [];
    for (let r = 0; r < 3; r++) {
      const start = performance.now();
      let recording = 0;
      const pending = [];
      for (let s = 0; s < steps; s++) {
        const t = performance.now();
        pending.push(trainer.trainStep(pool[s % 2]));
        recording += performance.now() - t;
      }
      await Promise.all(pending);
      samples.push({ ms: (performance.now() - start) / steps, recordMs: recording / steps });
    }
    samples.sort((a, b) => a.ms - b.ms);
    const memoryMiB = gpu.pool.peakBytes / 2 ** 20;
    const { ms, recordMs } = samples[1];
    return { group: "step", name, ms, flops: 0, images: batch, memoryMiB, recordMs };
  } finally {
    trainer.dispose();
  }
}
