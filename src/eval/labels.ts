// Evaluation labels from the per-pixel ground truth of a `scenes` image, and the mapping from a
// patch grid back to pixels. Images are rendered at the encoder's input size, a whole number of
// patches per side, so patch (row i, column j) covers pixels [i p, (i + 1) p) x [j p, (j + 1) p)
// exactly, in the encoder's row-major patch order.
import { type Scene, SHAPES } from "../data/scenes/scene";

function checkGrid(size: number, patch: number, what: string): number {
  if (!Number.isInteger(patch) || patch < 1 || size % patch !== 0)
    throw new Error(`${what}: image size ${size} is not a whole number of ${patch}-pixel patches`);
  return size / patch;
}

/**
 * The majority class of each patch's pixels ([g * g], row-major); ties go to the lower class
 * (so a patch half background, half object counts as background).
 */
export function patchMajority(
  classMap: ArrayLike<number>,
  size: number,
  patch: number,
  classes: number,
): Int32Array {
  const g = checkGrid(size, patch, "patchMajority");
  const out = new Int32Array(g * g);
  const counts = new Int32Array(classes);
  for (let i = 0; i < g; i++) {
    for (let j = 0; j < g; j++) {
      counts.fill(0);
      for (let y = i * patch; y < (i + 1) * patch; y++)
        for (let x = j * patch; x < (j + 1) * patch; x++) counts[classMap[y * size + x]]++;
      let best = 0;
      for (let c = 1; c < classes; c++) if (counts[c] > counts[best]) best = c;
      out[i * g + j] = best;
    }
  }
  return out;
}

/** The mean of each patch's pixel values ([g * g], row-major), in float64 before rounding to f32. */
export function patchMean(values: ArrayLike<number>, size: number, patch: number): Float32Array {
  const g = checkGrid(size, patch, "patchMean");
  const out = new Float32Array(g * g);
  for (let i = 0; i < g; i++) {
    for (let j = 0; j < g; j++) {
      let s = 0;
      for (let y = i * patch; y < (i + 1) * patch; y++)
        for (let x = j * patch; x < (j + 1) * patch; x++) s += values[y * size + x];
      out[i * g + j] = s / (patch * patch);
    }
  }
  return out;
}

/** Per-patch values [g * g] spread to every pixel of their patch (nearest-neighbour upsampling). */
export function upsampleNearest<T extends Int32Array | Float32Array>(
  patches: T,
  size: number,
  patch: number,
): T {
  const g = checkGrid(size, patch, "upsampleNearest");
  if (patches.length !== g * g)
    throw new Error(`upsampleNearest: ${patches.length} values for a ${g}x${g} grid`);
  const out = new (patches.constructor as new (n: number) => T)(size * size);
  for (let y = 0; y < size; y++) {
    const row = Math.floor(y / patch) * g;
    for (let x = 0; x < size; x++) out[y * size + x] = patches[row + Math.floor(x / patch)];
  }
  return out;
}

/**
 * The image-level label for kNN and zero-shot classification: the SHAPES index of the object
 * that covers the most pixels in the image as rendered (occlusion counted; ties go to the
 * farther object). The web caption names this object most often, so it is the scene's "main
 * object", as an ImageNet label is. Falls back to the largest bounding circle if no object
 * covers a pixel (possible only at tiny sizes).
 */
export function mainObjectClass(scene: Scene): number {
  const pixels = new Int32Array(scene.objects.length + 1);
  for (let p = 0; p < scene.instanceMap.length; p++) pixels[scene.instanceMap[p]]++;
  let best = -1;
  for (let i = 0; i < scene.objects.length; i++) {
    if (pixels[i + 1] > 0 && (best < 0 || pixels[i + 1] > pixels[best + 1])) best = i;
  }
  if (best < 0) {
    best = 0;
    for (let i = 1; i < scene.objects.length; i++)
      if (scene.objects[i].radius > scene.objects[best].radius) best = i;
  }
  return SHAPES.indexOf(scene.objects[best].shape);
}
