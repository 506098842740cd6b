// Groups the entries of one tar shard by key, as webdataset does: "dir/000000042.syn.txt" has key
// "dir/000000042" and extension "syn.txt" (everything after the first dot of the file name), and
// consecutive entries with the same key form a group. A group is complete once the next key starts
// or the archive ends cleanly. Damage (bad header checksum, truncation, read failure) ends the
// shard: every group completed before it is delivered, the group being assembled (which may be
// missing entries) is dropped, and the reason is kept in `failure`.
import type { ParsedTarEntry } from "modern-tar";
import { ShardSourceError } from "./source";
import { TarEntries } from "./tar-entries";

export interface Group {
  key: string;
  /** Position of the group in its shard, counting every group (also those skipped later). */
  index: number;
  /** Bytes of the entries a sample uses, by lowercased extension: jpg, jpeg, png, webp, txt, json, syn.txt. */
  files: Map<string, Uint8Array>;
  /** An image entry was left unread because it was larger than the byte limit. */
  imageTooLarge: boolean;
}

export type ShardFailure = "truncated_shard" | "bad_checksum" | "bad_tar" | "shard_failed";

export const IMAGE_EXTENSIONS = new Set(["jpg", "jpeg", "png", "webp"]);
const READ_EXTENSIONS = new Set([...IMAGE_EXTENSIONS, "txt", "json", "syn.txt"]);

export class ShardGroups {
  /** Why the shard ended early, once it has; null while reading and after a clean end. */
  failure: ShardFailure | null = null;
  private entries: TarEntries;
  private building: Group | null = null;
  private started = 0;
  private ended = false;

  constructor(
    bytes: ReadableStream<Uint8Array>,
    private maxImageBytes: number,
  ) {
    this.entries = new TarEntries(bytes);
  }

  /**
   * The next complete group, or null at the end of the shard. Entries of groups whose index
   * `read` rejects are skipped without being read into memory (the group comes with no files).
   */
  async next(read: (index: number) => boolean = () => true): Promise<Group | null> {
    let complete: Group | null = null;
    try {
      while (!this.ended) {
        const entry = await this.entries.next();
        if (!entry) {
          this.ended = true;
          complete = this.building;
          this.building = null;
          return complete;
        }
        const name = splitName(entry.header.name);
        if (entry.header.type !== "file" || !name) {
          await this.entries.skip(entry);
          continue;
        }
        if (this.building?.key !== name.key) {
          complete = this.building;
          this.building = { key: name.key, index: this.started++, files: new Map(), imageTooLarge: false };
        }
        await this.take(this.building, entry, name.ext, read(this.building.index));
        if (complete) return complete;
      }
      return null;
    } catch (error) {
      this.failure = classify(error);
      this.ended = true;
      this.building = null;
      await this.entries.close();
      return complete;
    }
  }

  /** Stops reading (and downloading) the shard. */
  async close(): Promise<void> {
    this.ended = true;
    await this.entries.close();
  }

  private async take(group: Group, entry: ParsedTarEntry, ext: string, read: boolean): Promise<void> {
    const tooLarge = IMAGE_EXTENSIONS.has(ext) && entry.header.size > this.maxImageBytes;
    if (tooLarge) group.imageTooLarge = true;
    if (!read || tooLarge || !READ_EXTENSIONS.has(ext) || group.files.has(ext))
      return this.entries.skip(entry);
    group.files.set(ext, await this.entries.read(entry));
  }
}

/** Key and lowercased extension of an entry name, or null for a name without an extension. */
export function splitName(path: string): { key: string; ext: string } | null {
  const slash = path.lastIndexOf("/");
  const dot = path.indexOf(".", slash + 1);
  if (dot <= slash + 1 || dot === path.length - 1) return null;
  return { key: path.slice(0, dot), ext: path.slice(dot + 1).toLowerCase() };
}

function classify(error: unknown): ShardFailure {
  if (error instanceof ShardSourceError) return "shard_failed";
  const message = error instanceof Error ? error.message : String(error);
  if (/checksum/i.test(message)) return "bad_checksum";
  if (/truncated/i.test(message)) return "truncated_shard";
  return "bad_tar";
}
