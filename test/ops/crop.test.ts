// GPU crops against a float64 reference, and the seeded crop/mask choices.
import { describe, expect, it } from "vitest";
import { type CropBox, randomPatchMasks, randomResizedCrop } from "../../src/data/crops";
import { cropImages, packImages, type RgbaImage } from "../../src/ops/crop";
import { Rng } from "../../src/tensor/rng";
import { testGpu } from "../helpers/gpu";

function randomImage(rng: Rng, width: number, height: number): RgbaImage {
  const data = new Uint8Array(width * height * 4).map(() => rng.int(256));
  return { width, height, data };
}

/** float64 version of kernels/image.wgsl `crop`. */
function refCrop(images: RgbaImage[], boxes: CropBox[], size: number): Float64Array {
  const out = new Float64Array(boxes.length * 3 * size * size);
  boxes.forEach((b, c) => {
    const im = images[b.image];
    // samples per axis: enough to cover this crop's shrink factor, at most 8
    const taps = Math.min(8, Math.ceil(Math.max(1, b.width / size, b.height / size)));
    const texel = (x: number, y: number, ch: number) => {
      const cx = Math.min(Math.max(x, 0), im.width - 1);
      const cy = Math.min(Math.max(y, 0), im.height - 1);
      return im.data[(cy * im.width + cx) * 4 + ch] / 255;
    };
    for (let oy = 0; oy < size; oy++) {
      for (let oxOut = 0; oxOut < size; oxOut++) {
        const ox = b.flip ? size - 1 - oxOut : oxOut;
        for (let ch = 0; ch < 3; ch++) {
          let acc = 0;
          for (let ty = 0; ty < taps; ty++) {
            for (let tx = 0; tx < taps; tx++) {
              const fx = (ox + (tx + 0.5) / taps) * (b.width / size) + b.x - 0.5;
              const fy = (oy + (ty + 0.5) / taps) * (b.height / size) + b.y - 0.5;
              const x0 = Math.floor(fx);
              const y0 = Math.floor(fy);
              const ax = fx - x0;
              const ay = fy - y0;
              const top = texel(x0, y0, ch) * (1 - ax) + texel(x0 + 1, y0, ch) * ax;
              const bottom = texel(x0, y0 + 1, ch) * (1 - ax) + texel(x0 + 1, y0 + 1, ch) * ax;
              acc += top * (1 - ay) + bottom * ay;
            }
          }
          out[((c * 3 + ch) * size + oy) * size + oxOut] = acc / (taps * taps);
        }
      }
    }
  });
  return out;
}

describe("GPU crops", () => {
  it("an uncropped, unscaled image comes back as its pixels / 255 in [3, H, W]", async () => {
    const gpu = await testGpu();
    const im = randomImage(new Rng(1), 5, 5);
    const packed = packImages(gpu, [im]);
    const out = cropImages(packed, [{ image: 0, x: 0, y: 0, width: 5, height: 5, flip: false }], 5);
    const v = await out.read();
    for (let y = 0; y < 5; y++)
      for (let x = 0; x < 5; x++)
        for (let c = 0; c < 3; c++)
          expect(v[(c * 5 + y) * 5 + x]).toBeCloseTo(im.data[(y * 5 + x) * 4 + c] / 255, 6);
    out.dispose();
    packed.pixels.dispose();
  });

  it("matches the float64 reference for random crops of odd-sized images, flips and shrinking", async () => {
    const gpu = await testGpu();
    const rng = new Rng(2);
    const images = [randomImage(rng, 37, 23), randomImage(rng, 64, 80), randomImage(rng, 7, 3)];
    const boxes: CropBox[] = [
      { image: 0, x: 3.5, y: 2, width: 20, height: 15.25, flip: true },
      { image: 1, x: 0, y: 0, width: 64, height: 80, flip: false },
      { image: 2, x: 1, y: 0.5, width: 5, height: 2, flip: true },
      ...images.map((im, i) => randomResizedCrop(rng, i, im.width, im.height, { scale: [0.3, 1] })),
    ];
    const packed = packImages(gpu, images);
    for (const size of [9, 16]) {
      const out = cropImages(packed, boxes, size);
      const got = await out.read();
      const want = refCrop(images, boxes, size);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      expect(worst).toBeLessThan(1e-5);
      out.dispose();
    }
    packed.pixels.dispose();
  });

  it("keeps a 1:1 crop exact when another crop of the same batch is shrunk (taps are per crop)", async () => {
    const gpu = await testGpu();
    const rng = new Rng(4);
    const images = [randomImage(rng, 6, 6), randomImage(rng, 30, 30)];
    const packed = packImages(gpu, images);
    const boxes: CropBox[] = [
      { image: 0, x: 0, y: 0, width: 6, height: 6, flip: false },
      { image: 1, x: 0, y: 0, width: 30, height: 30, flip: false },
    ];
    const out = cropImages(packed, boxes, 6);
    const v = await out.read();
    for (let y = 0; y < 6; y++)
      for (let x = 0; x < 6; x++)
        for (let c = 0; c < 3; c++)
          expect(v[(c * 6 + y) * 6 + x]).toBeCloseTo(images[0].data[(y * 6 + x) * 4 + c] / 255, 6);
    out.dispose();
    packed.pixels.dispose();
  });

  it("rejects a crop of an image that is not in the batch and bytes that are not RGBA", async () => {
    const gpu = await testGpu();
    const packed = packImages(gpu, [randomImage(new Rng(3), 4, 4)]);
    expect(() => cropImages(packed, [{ image: 1, x: 0, y: 0, width: 2, height: 2, flip: false }], 4)).toThrow(
      /names image 1/,
    );
    packed.pixels.dispose();
    expect(() => packImages(gpu, [{ width: 4, height: 4, data: new Uint8Array(10) }])).toThrow(
      /do not hold a 4x4/,
    );
  });
});

describe("crop and mask choices", () => {
  it("random-resized crops lie inside the image and follow the seed", () => {
    const a = new Rng(9);
    const b = new Rng(9);
    for (let i = 0; i < 200; i++) {
      const box = randomResizedCrop(a, 0, 97, 61, { scale: [0.05, 0.4] });
      expect(box).toEqual(randomResizedCrop(b, 0, 97, 61, { scale: [0.05, 0.4] }));
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(97);
      expect(box.y + box.height).toBeLessThanOrEqual(61);
      expect((box.width * box.height) / (97 * 61)).toBeLessThan(0.45);
    }
  });

  it("masks exactly round(ratio * patches) patches per image, ratio within the range", () => {
    const masks = randomPatchMasks(new Rng(4), 50, 49, [0.1, 0.5]);
    for (let b = 0; b < 50; b++) {
      const count = masks.slice(b * 49, (b + 1) * 49).reduce((s, v) => s + v, 0);
      expect(count).toBeGreaterThanOrEqual(Math.round(0.1 * 49));
      expect(count).toBeLessThanOrEqual(Math.round(0.5 * 49));
    }
    expect(randomPatchMasks(new Rng(4), 50, 49, [0.1, 0.5])).toEqual(masks);
  });
});
