// Image bytes to RGBA pixels in a browser (main thread or Worker). Same contract as decode-node.ts.
// The size is read from the file header first: createImageBitmap would allocate all the pixels of
// a decompression bomb before we could look at its dimensions.
import { DEFAULT_MAX_PIXELS, imageSize, type RgbaImage } from "./image";
import type { SkipCounts } from "./skips";

/**
 * Decodes a JPEG, PNG or WebP to RGBA, upright (EXIF orientation applied). Returns null, counting
 * image_too_large or bad_image in `skipped`, for an image with more than `maxPixels` pixels or one
 * that cannot be decoded.
 */
export async function decodeImage(
  bytes: Uint8Array,
  skipped: SkipCounts,
  maxPixels = DEFAULT_MAX_PIXELS,
): Promise<RgbaImage | null> {
  const size = imageSize(bytes);
  if (!size) {
    skipped.bad_image++;
    return null;
  }
  if (size.width * size.height > maxPixels) {
    skipped.image_too_large++;
    return null;
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>]), {
      premultiplyAlpha: "none",
      colorSpaceConversion: "default",
    });
  } catch {
    skipped.bad_image++;
    return null;
  }
  const { width, height } = bitmap;
  const context = new OffscreenCanvas(width, height).getContext("2d", { willReadFrequently: true })!;
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const pixels = context.getImageData(0, 0, width, height).data;
  return { width, height, data: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength) };
}
