// The entries of a tar stream, parsed by modern-tar (strict mode: a header whose checksum does not
// match is an error, and so is an archive that ends mid-entry or without its end-of-archive
// blocks), fed with bytes only as the entries are asked for.
//
// Why the feeding: modern-tar errors its entry stream as soon as it meets damage, and an errored
// stream drops the entries still queued in it. Given the whole archive, it parses a few entries
// ahead of the reader, so how many good entries before the damage survive would depend on how the
// bytes were chunked and when they arrived. Here the decoder gets the current entry's data (and
// padding) only while its body is being read or skipped, and the next header one 512-byte block at
// a time only while the next entry is awaited; it never holds a complete header that was not asked
// for, so every entry before the damage is delivered, always.
import { createTarDecoder, type ParsedTarEntry } from "modern-tar";

const BLOCK = 512;
const MAX_WRITE = 256 * 1024;

export class TarEntries {
  private entries: ReadableStreamDefaultReader<ParsedTarEntry>;
  private writer: WritableStreamDefaultWriter<Uint8Array>;
  private source: ReadableStreamDefaultReader<Uint8Array>;
  private chunk: Uint8Array = new Uint8Array(0); // source bytes not yet given to the decoder
  private fed = 0;
  private dataEnd = 0; // where the current entry's data and padding end
  private sourceDone = false;

  constructor(bytes: ReadableStream<Uint8Array>) {
    const decoder = createTarDecoder({ strict: true });
    this.entries = decoder.readable.getReader();
    this.writer = decoder.writable.getWriter();
    this.source = bytes.getReader();
  }

  /** The next entry, or null at the end; throws on damage. Read or skip its body before asking again. */
  async next(): Promise<ParsedTarEntry | null> {
    const { done, value } = await this.settle(this.entries.read(), true);
    if (done) return null;
    this.dataEnd = this.fed + Math.ceil(value.header.size / BLOCK) * BLOCK;
    return value;
  }

  /** The whole body of the current entry; throws on damage. */
  async read(entry: ParsedTarEntry): Promise<Uint8Array> {
    const size = entry.header.size;
    const out = new Uint8Array(size);
    const reader = entry.body.getReader();
    let filled = 0;
    for (
      let r = await this.settle(reader.read(), false);
      !r.done;
      r = await this.settle(reader.read(), false)
    ) {
      if (filled + r.value.length > size)
        throw new Error(`tar entry ${entry.header.name} is longer than its header says`);
      out.set(r.value, filled);
      filled += r.value.length;
    }
    if (filled < size) throw new Error(`tar entry ${entry.header.name} is truncated`);
    return out;
  }

  skip(entry: ParsedTarEntry): Promise<void> {
    return entry.body.cancel();
  }

  /** Stops reading the source. */
  async close(): Promise<void> {
    this.sourceDone = true;
    await Promise.all([
      this.source.cancel().catch(() => {}),
      this.writer.abort().catch(() => {}),
      this.entries.cancel().catch(() => {}),
    ]);
  }

  /** Feeds the decoder until `pending` (a read on it) settles, never past what that read needs. */
  private async settle<T>(pending: Promise<T>, header: boolean): Promise<T> {
    let settled = false;
    const mark = () => {
      settled = true;
    };
    pending.then(mark, mark);
    await Promise.resolve(); // the decoder may answer from the bytes it has
    while (!settled && !this.sourceDone) {
      const data = this.dataEnd - this.fed;
      const limit = data > 0 ? data : header ? BLOCK : 0;
      if (limit === 0) break; // a body whose bytes the decoder already has all of
      await this.feed(Math.min(limit, MAX_WRITE));
    }
    return pending;
  }

  private async feed(limit: number): Promise<void> {
    if (this.chunk.length === 0) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await this.source.read();
      } catch (error) {
        this.sourceDone = true;
        await this.writer.abort(error).catch(() => {}); // the decoder's reads now fail with `error`
        return;
      }
      if (result.done) {
        this.sourceDone = true;
        await this.writer.close().catch(() => {}); // a truncation shows in the decoder's reads
        return;
      }
      this.chunk = result.value;
    }
    const part = this.chunk.subarray(0, limit);
    this.chunk = this.chunk.subarray(part.length);
    this.fed += part.length;
    await this.writer.write(part).catch(() => {}); // damage shows in the decoder's reads
  }
}
