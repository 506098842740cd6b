// Batches as they travel from the data worker to the trainer: every image's RGBA pixels in one
// ArrayBuffer (transferred, never copied), the captions, and the source's position and skip counts
// right after the batch, so that a checkpoint taken after training on it resumes the stream
// exactly there, however far the prefetcher has read ahead.
import type { Example, ExampleSource, SourcePosition } from "./examples";
import type { SkipCounts } from "./skips";

export interface PackedBatch {
  /** The RGBA pixels of every example, one image after another. */
  pixels: Uint8Array;
  /** [width, height] of each example. */
  sizes: Uint32Array;
  keys: string[];
  webCaptions: string[];
  syntheticCaptions: string[];
  /** Where the source stands after this batch. */
  position: SourcePosition;
  /** The source's skip counts after this batch. */
  skipped: SkipCounts;
}

export function packBatch(examples: Example[], position: SourcePosition, skipped: SkipCounts): PackedBatch {
  const total = examples.reduce((n, e) => n + e.image.data.length, 0);
  const pixels = new Uint8Array(total);
  const sizes = new Uint32Array(2 * examples.length);
  let offset = 0;
  examples.forEach((e, i) => {
    pixels.set(e.image.data, offset);
    offset += e.image.data.length;
    sizes[2 * i] = e.image.width;
    sizes[2 * i + 1] = e.image.height;
  });
  return {
    pixels,
    sizes,
    keys: examples.map((e) => e.key),
    webCaptions: examples.map((e) => e.webCaption),
    syntheticCaptions: examples.map((e) => e.syntheticCaption),
    position: structuredClone(position),
    skipped: { ...skipped },
  };
}

/** The examples of a batch; their images are views into the batch's pixel buffer. */
export function unpackBatch(b: PackedBatch): Example[] {
  let offset = 0;
  return b.keys.map((key, i) => {
    const width = b.sizes[2 * i];
    const height = b.sizes[2 * i + 1];
    const data = b.pixels.subarray(offset, offset + 4 * width * height);
    offset += data.length;
    if (data.length !== 4 * width * height)
      throw new Error(`batch is short of pixels at example ${i} (${key})`);
    return {
      key,
      image: { width, height, data },
      webCaption: b.webCaptions[i],
      syntheticCaption: b.syntheticCaptions[i],
    };
  });
}

/** The buffers to transfer with a batch. */
export function batchTransferables(b: PackedBatch): ArrayBuffer[] {
  return [b.pixels.buffer as ArrayBuffer, b.sizes.buffer as ArrayBuffer];
}

/**
 * Reads batches ahead from a source: up to `depth` batches are assembled (decoded) before they are
 * asked for, one after another, so that while the trainer works on one batch the next ones are
 * being decoded. next() gives them in order; null once the source cannot fill a whole batch.
 */
export class BatchPrefetcher {
  private readonly queue: Promise<PackedBatch | null>[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private ended = false;

  constructor(
    private readonly source: ExampleSource,
    readonly batch: number,
    readonly depth = 2,
  ) {
    if (!(Number.isInteger(batch) && batch >= 1))
      throw new Error(`batch must be a positive integer; got ${batch}`);
    if (!(Number.isInteger(depth) && depth >= 1))
      throw new Error(`depth must be a positive integer; got ${depth}`);
    this.fill();
  }

  /** Batches assembled or being assembled, not yet handed out. */
  get queued(): number {
    return this.queue.length;
  }

  next(): Promise<PackedBatch | null> {
    this.fill();
    const head = this.queue.shift() ?? Promise.resolve(null);
    this.fill();
    return head;
  }

  private fill(): void {
    while (!this.ended && this.queue.length < this.depth) {
      const assembled = this.tail.then(() => this.assemble());
      assembled.catch(() => {}); // the error reaches whoever takes this batch
      this.tail = assembled.catch(() => {});
      this.queue.push(assembled);
    }
  }

  private async assemble(): Promise<PackedBatch | null> {
    if (this.ended) return null;
    let examples: Example[];
    try {
      examples = await this.source.next(this.batch);
    } catch (error) {
      this.ended = true;
      throw error;
    }
    if (examples.length < this.batch) {
      this.ended = true;
      return null;
    }
    return packBatch(examples, this.source.position(), this.source.skipped);
  }
}
