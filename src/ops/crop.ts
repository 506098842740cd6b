// Crops of a batch of decoded images on the GPU: resampled to size x size, flipped, scaled to
// [0, 1], as [N, 3, size, size] (the model's input layout). Images of any sizes are packed into
// one u32 buffer (RGBA8 per pixel) with packImages().
import code from "../../kernels/image.wgsl?raw";
import type { CropBox } from "../data/crops";
import type { Gpu } from "../gpu/gpu";
import { grid1d, kernel } from "../gpu/kernel";
import { Tensor } from "../tensor/tensor";

const cropKernel = kernel({
  name: "image.crop",
  file: "image.wgsl",
  code,
  entryPoint: "crop",
  params: { n: "u32", size: "u32" },
  bindings: ["pixels", "crops", "out"],
});
const MAX_TAPS = 8;

export interface RgbaImage {
  width: number;
  height: number;
  /** width * height * 4 bytes, RGBA, row-major. */
  data: Uint8Array;
}

export interface PackedImages {
  pixels: Tensor;
  offsets: number[];
  sizes: [number, number][];
}

export function packImages(gpu: Gpu, images: RgbaImage[]): PackedImages {
  let total = 0;
  const offsets = images.map((im) => {
    if (im.data.length !== im.width * im.height * 4) {
      throw new Error(
        `packImages: ${im.data.length} bytes do not hold a ${im.width}x${im.height} RGBA image`,
      );
    }
    const at = total;
    total += im.width * im.height;
    return at;
  });
  const words = new Uint32Array(Math.max(1, total));
  const bytes = new Uint8Array(words.buffer);
  images.forEach((im, i) => {
    bytes.set(im.data, offsets[i] * 4);
  });
  return {
    pixels: Tensor.from(gpu, words, [words.length], "u32"),
    offsets,
    sizes: images.map((im) => [im.width, im.height]),
  };
}

/** Samples per axis per output pixel of a crop: enough to cover its shrink factor. */
export function tapsFor(box: CropBox, size: number): number {
  return Math.min(MAX_TAPS, Math.ceil(Math.max(1, Math.max(box.width, box.height) / size)));
}

export function cropImages(packed: PackedImages, boxes: CropBox[], size: number): Tensor {
  const gpu = packed.pixels.gpu;
  const table = new Uint32Array(boxes.length * 8);
  const floats = new Float32Array(table.buffer);
  boxes.forEach((b, i) => {
    const [w, h] = packed.sizes[b.image] ?? [0, 0];
    if (w === 0) throw new Error(`cropImages: crop ${i} names image ${b.image}, which is not in the batch`);
    table.set([packed.offsets[b.image], w, h, (b.flip ? 1 : 0) | (tapsFor(b, size) << 1)], i * 8);
    floats.set([b.x, b.y, b.width, b.height], i * 8 + 4);
  });
  const out = Tensor.empty(gpu, [boxes.length, 3, size, size]);
  if (!boxes.length) return out;
  const tableT = Tensor.from(gpu, table, [table.length], "u32");
  gpu.dispatch({
    kernel: cropKernel,
    params: { n: boxes.length, size },
    buffers: { pixels: packed.pixels.binding, crops: tableT.binding, out: out.binding },
    workgroups: grid1d(out.size),
  });
  tableT.dispose();
  return out;
}
