import { crc32 } from "node:zlib";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { decodeImage } from "../../src/data/decode-node";
import { imageSize } from "../../src/data/image";
import { emptySkipCounts } from "../../src/data/skips";
import { encodedImage } from "./fixtures";

/** A valid PNG whose header claims width x height (IHDR rewritten with its CRC), pixels absent. */
async function pngClaiming(width: number, height: number): Promise<Uint8Array> {
  const png = await encodedImage(1, "png");
  const view = new DataView(png.buffer, png.byteOffset);
  view.setUint32(16, width);
  view.setUint32(20, height);
  view.setUint32(29, crc32(png.subarray(12, 29))); // CRC of "IHDR" and its 13 data bytes
  return png;
}

describe("decodeImage (Node, sharp)", () => {
  it("decodes PNG, JPEG and WebP to RGBA", async () => {
    for (const type of ["png", "jpeg", "webp"] as const) {
      const skipped = emptySkipCounts();
      const image = await decodeImage(await encodedImage(4, type, 5, 3), skipped);
      expect(image && [image.width, image.height, image.data.length]).toEqual([5, 3, 60]);
      expect(image!.data.buffer.byteLength).toBe(60); // transferable without extra bytes
      expect(image!.data.filter((_, i) => i % 4 === 3).every((a) => a === 255)).toBe(true);
    }
    const raw = new Uint8Array(5 * 3 * 3).map((_, i) => (4 * 37 + i * 11) % 256);
    const png = await decodeImage(await encodedImage(4, "png", 5, 3), emptySkipCounts());
    expect([...png!.data].filter((_, i) => i % 4 !== 3)).toEqual([...raw]); // lossless: exact pixels
  });

  it("gives 8-bit RGBA for grey, 16-bit and transparent images, and applies EXIF orientation", async () => {
    const grey = await sharp(new Uint8Array(6).fill(90), { raw: { width: 3, height: 2, channels: 1 } })
      .png()
      .toBuffer();
    const deep = await sharp(new Uint8Array(6 * 3).fill(200), { raw: { width: 3, height: 2, channels: 3 } })
      .png()
      .toColourspace("rgb16")
      .toBuffer();
    const clear = await sharp(new Uint8Array(6 * 4).fill(7), { raw: { width: 3, height: 2, channels: 4 } })
      .png()
      .toBuffer();
    const skipped = emptySkipCounts();
    expect([...(await decodeImage(grey, skipped))!.data.subarray(0, 4)]).toEqual([90, 90, 90, 255]);
    expect((await decodeImage(deep, skipped))!.data).toHaveLength(24);
    expect([...(await decodeImage(clear, skipped))!.data.subarray(0, 4)]).toEqual([7, 7, 7, 7]);
    const rotated = await sharp(await encodedImage(1, "jpeg", 5, 3))
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const upright = await decodeImage(rotated, skipped);
    expect([upright!.width, upright!.height]).toEqual([3, 5]);
  });

  it("refuses a corrupt image as bad_image", async () => {
    const png = await encodedImage(5, "png");
    const corrupt = png.slice();
    corrupt.fill(0x42, 40); // keep the header, wreck the pixel data
    const skipped = emptySkipCounts();
    expect(await decodeImage(corrupt, skipped)).toBeNull();
    expect(await decodeImage(png.subarray(0, 30), skipped)).toBeNull();
    expect(await decodeImage(new TextEncoder().encode("not an image"), skipped)).toBeNull();
    expect(skipped.bad_image).toBe(3);
    expect(skipped.image_too_large).toBe(0);
  });

  it("refuses an image whose header claims too many pixels, without decoding it", async () => {
    const skipped = emptySkipCounts();
    const start = performance.now();
    expect(await decodeImage(await pngClaiming(100_000, 100_000), skipped)).toBeNull();
    expect(performance.now() - start).toBeLessThan(2000);
    expect(await decodeImage(await encodedImage(1, "png", 3, 2), skipped, 5)).toBeNull();
    expect(skipped.image_too_large).toBe(2);
    expect(skipped.bad_image).toBe(0);
  });
});

describe("imageSize", () => {
  it("reads the size from PNG, JPEG and WebP headers (lossy, lossless, extended)", async () => {
    const rgba = new Uint8Array(7 * 4 * 4).fill(128);
    const withAlpha = sharp(rgba, { raw: { width: 7, height: 4, channels: 4 } });
    const files = [
      await encodedImage(1, "png", 7, 4),
      await encodedImage(1, "jpeg", 7, 4),
      await encodedImage(1, "webp", 7, 4), // lossless: VP8L
      new Uint8Array(
        await sharp(await encodedImage(1, "png", 7, 4))
          .webp({ quality: 80 })
          .toBuffer(),
      ), // VP8
      new Uint8Array(await withAlpha.webp({ quality: 80 }).toBuffer()), // VP8X
    ];
    for (const bytes of files) expect(imageSize(bytes)).toEqual({ width: 7, height: 4 });
    expect(imageSize(await pngClaiming(100_000, 100_000))).toEqual({ width: 100_000, height: 100_000 });
  });

  it("returns null for anything else", () => {
    expect(imageSize(new Uint8Array(0))).toBeNull();
    expect(imageSize(new TextEncoder().encode("GIF89a and some more bytes to be long enough"))).toBeNull();
    expect(imageSize(new Uint8Array([0xff, 0xd8, 0xff, 0xd9]))).toBeNull();
  });
});
