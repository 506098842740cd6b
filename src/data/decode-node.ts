// Image bytes to RGBA pixels in Node, with sharp (libvips). Same contract as decode-browser.ts.
// sharp's limitInputPixels refuses an image from its header, before any pixels are allocated.
import type SharpModule from "sharp";
import { DEFAULT_MAX_PIXELS, type RgbaImage } from "./image";
import type { SkipCounts } from "./skips";

let sharpModule: Promise<typeof SharpModule> | null = null;

/**
 * sharp, loaded on first use: commands that decode nothing (training on scenes, say) then run
 * where its native library is absent, such as from a bundle on a machine without node_modules.
 */
export function loadSharp(): Promise<typeof SharpModule> {
  sharpModule ??= import("sharp").then(
    (m) => m.default,
    (err) => {
      sharpModule = null;
      throw new Error(
        `decoding images in Node needs the sharp package (run npm ci): ${(err as Error).message}`,
      );
    },
  );
  return sharpModule;
}

/**
 * Decodes a JPEG, PNG or WebP to 8-bit sRGB RGBA, upright (EXIF orientation applied). Returns
 * null, counting image_too_large or bad_image in `skipped`, for an image with more than
 * `maxPixels` pixels or one that cannot be decoded.
 */
export async function decodeImage(
  bytes: Uint8Array,
  skipped: SkipCounts,
  maxPixels = DEFAULT_MAX_PIXELS,
): Promise<RgbaImage | null> {
  const sharp = await loadSharp();
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, autoOrient: true })
      .toColourspace("srgb")
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    // An exact-size copy when the pixels share a larger buffer, so that `data.buffer` can be transferred.
    const owned = data.byteOffset === 0 && data.buffer.byteLength === data.length;
    return {
      width: info.width,
      height: info.height,
      data: owned ? new Uint8Array(data.buffer) : data.slice(),
    };
  } catch (error) {
    if (/pixel limit/i.test(error instanceof Error ? error.message : String(error)))
      skipped.image_too_large++;
    else skipped.bad_image++;
    return null;
  }
}
