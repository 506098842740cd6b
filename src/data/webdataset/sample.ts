// Turns a group of tar entries into a training sample, as img2dataset lays samples out:
//   key.jpg | key.jpeg | key.png | key.webp   the image bytes (the first of these in the group)
//   key.txt                                   the web caption (alt text)
//   key.json                                  metadata; its field `synthetic_caption` holds the
//                                             synthetic caption (a string; anything else is ignored)
//   key.syn.txt                               a synthetic caption as its own file (wins over the JSON)
// Captions must be UTF-8 (strict decoding) and are trimmed; longer ones are cut to a limit. A
// sample needs at least one caption: without a web caption the synthetic one stands in for both
// (counted as web_caption_from_synthetic), and without a synthetic caption the trainer uses the
// web caption for both.

import type { ImageType } from "../image";
import type { SkipReason } from "../skips";
import type { Group } from "./groups";

/** The field of key.json that holds the synthetic caption. */
export const SYNTHETIC_CAPTION_FIELD = "synthetic_caption";

export interface Sample {
  key: string;
  /** Name of the shard the sample came from (its URL, path or file name). */
  shard: string;
  /** Position of the sample's group in its shard, counting from 0. */
  index: number;
  image: Uint8Array;
  imageType: ImageType;
  webCaption: string;
  syntheticCaption: string | null;
  /** key.json as parsed ({} if there was none). */
  meta: Record<string, unknown>;
  /**
   * Read in the first pass over the shard list: what is wrong with it is counted then. Later
   * passes read the same samples again and count nothing, so each bad sample counts once.
   */
  firstPass: boolean;
}

const IMAGE_TYPES: [string, ImageType][] = [
  ["jpg", "jpeg"],
  ["jpeg", "jpeg"],
  ["png", "png"],
  ["webp", "webp"],
];

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The sample of a group, or why there is none. `count` hears about changes that keep the sample
 * (caption_truncated, bad_json, web_caption_from_synthetic).
 */
export function toSample(
  group: Group,
  shard: string,
  maxCaptionChars: number,
  count: (reason: SkipReason) => void,
  firstPass = true,
): Sample | SkipReason {
  const image = IMAGE_TYPES.find(([ext]) => group.files.has(ext));
  if (!image) return group.imageTooLarge ? "image_too_large" : "missing_image";
  const webText = group.files.get("txt");
  const web = webText ? decode(webText)?.trim() : "";
  if (web === undefined) return "bad_utf8";
  // Counted only if the sample is kept.
  const notes: SkipReason[] = [];
  const note = (reason: SkipReason) => notes.push(reason);

  let meta: Record<string, unknown> = {};
  const json = group.files.get("json");
  if (json) {
    const parsed = parseObject(json);
    if (parsed) meta = parsed;
    else note("bad_json");
  }
  let synthetic: string | null = null;
  const synText = group.files.get("syn.txt");
  if (synText) {
    const text = decode(synText);
    if (text === null) return "bad_utf8";
    synthetic = text.trim();
  } else if (typeof meta[SYNTHETIC_CAPTION_FIELD] === "string") {
    synthetic = (meta[SYNTHETIC_CAPTION_FIELD] as string).trim();
  }
  if (!web && !synthetic) return "missing_caption";
  const syntheticCaption = synthetic ? limit(synthetic, maxCaptionChars, note) : null;
  const webCaption = web ? limit(web, maxCaptionChars, note) : syntheticCaption!;
  if (!web) note("web_caption_from_synthetic");
  for (const reason of notes) count(reason);

  return {
    key: group.key,
    shard,
    index: group.index,
    image: group.files.get(image[0])!,
    imageType: image[1],
    webCaption,
    syntheticCaption,
    meta,
    firstPass,
  };
}

function decode(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

function parseObject(bytes: Uint8Array): Record<string, unknown> | null {
  const text = decode(bytes);
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** `text` cut to `max` characters (code points, so no surrogate pair is split). */
function limit(text: string, max: number, count: (reason: SkipReason) => void): string {
  if (text.length <= max) return text;
  let chars = 0;
  for (let i = 0; i < text.length; i += text.codePointAt(i)! > 0xffff ? 2 : 1) {
    if (chars === max) {
      count("caption_truncated");
      return text.slice(0, i);
    }
    chars++;
  }
  return text;
}
