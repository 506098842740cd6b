// Why samples (or whole shards) were dropped or changed on their way from the tar shards to the
// trainer, counted for the UI. Every reader and decoder counts into the same object.

export const SKIP_REASONS = [
  /** A shard ended mid-entry; it stops at its last complete sample (counted once per shard). */
  "truncated_shard",
  /** A tar header failed its checksum; the shard stops there (counted once per shard). */
  "bad_checksum",
  /** Some other damage to the tar structure (a zero block followed by data, garbage after the end). */
  "bad_tar",
  /** The shard could not be read at all, or stopped reading after all retries (once per shard). */
  "shard_failed",
  "missing_image",
  "missing_caption",
  /** A caption file (.txt or .syn.txt) was not valid UTF-8. */
  "bad_utf8",
  /** The image entry was larger than the byte limit, or the decoder's pixel limit. */
  "image_too_large",
  /** The decoder could not decode the image. */
  "bad_image",
  /** Kept, with a caption cut to the length limit (counted once per caption). */
  "caption_truncated",
  /** Kept, with empty metadata: the .json entry was not UTF-8 JSON holding an object. */
  "bad_json",
  /** Kept, with its synthetic caption as the web caption too: the web caption was missing or empty. */
  "web_caption_from_synthetic",
] as const;

export type SkipReason = (typeof SKIP_REASONS)[number];
export type SkipCounts = Record<SkipReason, number>;

export function emptySkipCounts(): SkipCounts {
  return Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as SkipCounts;
}

/** "shard_failed 2, bad_image 1" for the counts that are not zero ("" if none). */
export function describeSkips(counts: SkipCounts): string {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(", ");
}
