// One training batch on the GPU from decoded examples: the global crop of each image (the
// teacher's view, and the student's with MIM masks), M local crops (the student's views for
// self-distillation), the patch masks and MIM weights, and both captions tokenized. Crop boxes
// and masks come from the trainer's seeded generator, so a run can be repeated exactly.
import { randomPatchMasks, randomResizedCrop } from "../data/crops";
import type { Example } from "../data/examples";
import type { Gpu } from "../gpu/gpu";
import { cropImages, packImages } from "../ops/crop";
import type { Rng } from "../tensor/rng";
import { Tensor } from "../tensor/tensor";
import type { TipsConfig } from "../tips/config";
import type { TipsBatch } from "../tips/loss";
import { captionsBatch } from "../tips/text";

export interface Tokenizer {
  encode(texts: readonly string[], length: number): { ids: Int32Array };
}

export interface ViewOptions {
  /** Area range of the global crop (DINOv2: 0.32-1). */
  globalScale: [number, number];
  /** Area range of the local crops (DINOv2: 0.05-0.32). */
  localScale: [number, number];
  /** iBOT++ (TIPSv2): the MIM loss over every patch, visible and masked, not only masked ones. */
  mimAllPatches: boolean;
  /**
   * Share of each micro-batch's images that get patch masks (iBOT and DINOv2: 0.5); the others
   * the student sees whole in its masked view too. Rounded up, so one image of a single-image
   * micro-batch is masked.
   */
  maskProbability: number;
}

export const DEFAULT_VIEWS: ViewOptions = {
  globalScale: [0.32, 1],
  localScale: [0.05, 0.32],
  mimAllPatches: false,
  maskProbability: 0.5,
};

/** CPU side of a batch: everything drawn from the generator, so it can be checked on its own. */
export interface ViewPlan {
  globalBoxes: ReturnType<typeof randomResizedCrop>[];
  /** Crop-major: crop m of image b at m * B + b. */
  localBoxes: ReturnType<typeof randomResizedCrop>[];
  masks: Float32Array;
  mimWeights: Float32Array;
  /** The mean over each image's masked patches, then images, whatever mimAllPatches says (RILS). */
  maskedWeights: Float32Array;
}

/** The images left without masks: b - ceil(b * probability) of them, drawn at random. */
function unmaskedImages(rng: Rng, b: number, probability: number): number[] {
  const unmasked = b - Math.ceil(b * probability);
  const order = Array.from({ length: b }, (_, i) => i);
  for (let i = 0; i < unmasked; i++) {
    const j = i + rng.int(b - i);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, unmasked);
}

export function planViews(examples: Example[], config: TipsConfig, rng: Rng, o: ViewOptions): ViewPlan {
  const b = examples.length;
  const n = (config.vision.imageSize / config.vision.patchSize) ** 2;
  const globalBoxes = examples.map((e, i) =>
    randomResizedCrop(rng, i, e.image.width, e.image.height, { scale: o.globalScale }),
  );
  const localBoxes = [];
  for (let m = 0; m < config.views.localCrops; m++) {
    for (const [i, e] of examples.entries()) {
      localBoxes.push(randomResizedCrop(rng, i, e.image.width, e.image.height, { scale: o.localScale }));
    }
  }
  const masks = Float32Array.from(randomPatchMasks(rng, b, n, config.views.maskRatio));
  for (const i of unmaskedImages(rng, b, o.maskProbability)) masks.fill(0, i * n, (i + 1) * n);
  const mimWeights = new Float32Array(b * n);
  const maskedWeights = new Float32Array(b * n);
  for (let i = 0; i < b; i++) {
    const row = masks.subarray(i * n, (i + 1) * n);
    const count = row.reduce((a, v) => a + v, 0);
    for (let t = 0; t < n; t++) {
      // iBOT: mean over an image's masked patches, then over images; iBOT++: over all patches.
      maskedWeights[i * n + t] = count > 0 ? row[t] / count / b : 0;
      mimWeights[i * n + t] = o.mimAllPatches ? 1 / (n * b) : maskedWeights[i * n + t];
    }
  }
  return { globalBoxes, localBoxes, masks, mimWeights, maskedWeights };
}

/**
 * Table 1's "sample one caption per image": each example's web caption replaced, with
 * probability one half, by its synthetic caption, drawn anew for every step. The web term then
 * trains CLS#1 on whichever caption was drawn.
 */
export function sampleCaptions(examples: Example[], rng: Rng): Example[] {
  return examples.map((e) => (rng.uniform() < 0.5 ? { ...e, webCaption: e.syntheticCaption } : e));
}

export function makeBatch(
  gpu: Gpu,
  examples: Example[],
  plan: ViewPlan,
  config: TipsConfig,
  tokenizer: Tokenizer,
): TipsBatch {
  const b = examples.length;
  const n = plan.masks.length / b;
  const length = config.text.maxLength;
  const packed = packImages(
    gpu,
    examples.map((e) => e.image),
  );
  const batch: TipsBatch = {
    global: cropImages(packed, plan.globalBoxes, config.vision.imageSize),
    local: cropImages(packed, plan.localBoxes, config.views.localSize),
    masks: Tensor.from(gpu, plan.masks, [b, n, 1]),
    mimWeights: Tensor.from(gpu, plan.mimWeights, [b * n]),
    maskedWeights: Tensor.from(gpu, plan.maskedWeights, [b * n]),
    captions: captionsBatch(
      gpu,
      tokenizer.encode(
        examples.map((e) => e.webCaption),
        length,
      ).ids,
      tokenizer.encode(
        examples.map((e) => e.syntheticCaption),
        length,
      ).ids,
      b,
      length,
    ),
  };
  packed.pixels.dispose();
  return batch;
}
