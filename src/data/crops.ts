// Where the crops of a TIPS batch come from, decided on the CPU from a seeded generator (a few
// numbers per image) and executed on the GPU by ops/crop.ts: one global crop per image
// (random-resized crop + horizontal flip, the teacher's view), M local crops (smaller random
// crops, the student's views), and the random patch masks for masked image modelling.
import type { Rng } from "../tensor/rng";

export interface CropBox {
  /** Index of the source image in the batch. */
  image: number;
  x: number;
  y: number;
  width: number;
  height: number;
  flip: boolean;
}

export interface RandomResizedCropOptions {
  /** Range of the crop's area as a fraction of the image's. */
  scale: [number, number];
  /** Range of width/height. */
  ratio?: [number, number];
  /** Flip horizontally with probability 1/2. */
  flip?: boolean;
}

/** torchvision's RandomResizedCrop box choice (ten tries, then a centred crop), in source pixels. */
export function randomResizedCrop(
  rng: Rng,
  image: number,
  width: number,
  height: number,
  options: RandomResizedCropOptions,
): CropBox {
  const [lo, hi] = options.scale;
  const [rlo, rhi] = options.ratio ?? [3 / 4, 4 / 3];
  const flip = (options.flip ?? true) && rng.uniform() < 0.5;
  const area = width * height;
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (lo + (hi - lo) * rng.uniform());
    const aspect = Math.exp(Math.log(rlo) + (Math.log(rhi) - Math.log(rlo)) * rng.uniform());
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      return { image, x: rng.int(width - w + 1), y: rng.int(height - h + 1), width: w, height: h, flip };
    }
  }
  const ratio = width / height;
  let w = width;
  let h = height;
  if (ratio < rlo) h = Math.round(w / rlo);
  else if (ratio > rhi) w = Math.round(h * rhi);
  return {
    image,
    x: Math.floor((width - w) / 2),
    y: Math.floor((height - h) / 2),
    width: w,
    height: h,
    flip,
  };
}

/**
 * Random (not blockwise) patch masks, as TIPS uses: for each image a ratio uniform in
 * [lo, hi], then exactly round(ratio * patches) distinct patches masked. [images * patches], 1 = masked.
 */
export function randomPatchMasks(
  rng: Rng,
  images: number,
  patches: number,
  ratio: [number, number],
): Uint32Array {
  const masks = new Uint32Array(images * patches);
  const order = new Uint32Array(patches);
  for (let b = 0; b < images; b++) {
    const count = Math.round((ratio[0] + (ratio[1] - ratio[0]) * rng.uniform()) * patches);
    for (let i = 0; i < patches; i++) order[i] = i;
    for (let i = 0; i < count; i++) {
      const j = i + rng.int(patches - i);
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
      masks[b * patches + order[i]] = 1;
    }
  }
  return masks;
}
