// The data worker's side and the trainer's side of the MessagePort between them. The trainer
// asks for a source to be opened (a DataSpec, the batch size, a position to resume from, and
// whether to build a vocabulary from its captions), then for batches one at a time; the data
// worker keeps a few batches decoded ahead (BatchPrefetcher) and answers each request with the
// next one, its pixels transferred. On the trainer's side a RemoteSource is an ExampleSource like
// any other, whose position is the one that came with the last batch handed out.
import { BatchPrefetcher, batchTransferables, type PackedBatch, unpackBatch } from "./batches";
import type { DataSpec, OpenOptions } from "./datasets";
import type { Example, ExampleSource, SourcePosition } from "./examples";
import { emptySkipCounts, type SkipCounts } from "./skips";
import { Vocabulary } from "./text/vocab";

/** Both ends use only this much of a MessagePort (browser or Node). */
export interface FeedPort {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent) => void) | null;
  close(): void;
}

export interface OpenRequest {
  spec: DataSpec;
  batch: number;
  /** Batches decoded ahead of the trainer. */
  prefetch: number;
  size: number;
  seed: number;
  position: SourcePosition | null;
  /** Build a vocabulary of this many words from the data's captions (a new run); null: resuming. */
  vocabularySize: number | null;
}

type Request =
  | { type: "open"; id: number; open: OpenRequest }
  | { type: "next"; id: number }
  | { type: "close"; id: number };

type Reply =
  | { type: "opened"; id: number; position: SourcePosition; words: string[] | null }
  /** batch null: the source cannot fill another batch; `skipped` says what it dropped. */
  | { type: "batch"; id: number; batch: PackedBatch | null; skipped: SkipCounts }
  | { type: "closed"; id: number }
  | { type: "error"; id: number; name: string; message: string };

export interface FeedServices {
  open(spec: DataSpec, options: OpenOptions): Promise<ExampleSource>;
  captions(spec: DataSpec): Promise<string[]>;
}

/** The data worker's end: serves one source at a time over `port`, a few batches ahead. */
export function serveFeed(port: FeedPort, services: FeedServices): void {
  let source: ExampleSource | null = null;
  let prefetcher: BatchPrefetcher | null = null;
  // Requests are handled one after another, in the order they came.
  let queue: Promise<void> = Promise.resolve();

  const close = async () => {
    const s = source;
    source = null;
    prefetcher = null;
    await s?.close();
  };

  const handle = async (r: Request): Promise<Reply> => {
    if (r.type === "open") {
      await close();
      const o = r.open;
      const words =
        o.vocabularySize === null
          ? null
          : [...Vocabulary.build(await services.captions(o.spec), o.vocabularySize).words];
      source = await services.open(o.spec, { size: o.size, seed: o.seed, position: o.position ?? undefined });
      prefetcher = new BatchPrefetcher(source, o.batch, o.prefetch);
      return { type: "opened", id: r.id, position: source.position(), words };
    }
    if (r.type === "next") {
      if (!prefetcher || !source) throw new Error("no data source is open");
      const batch = await prefetcher.next();
      return { type: "batch", id: r.id, batch, skipped: batch?.skipped ?? { ...source.skipped } };
    }
    await close();
    return { type: "closed", id: r.id };
  };

  port.onmessage = (event) => {
    const r = event.data as Request;
    queue = queue.then(async () => {
      try {
        const reply = await handle(r);
        const transfer = reply.type === "batch" && reply.batch ? batchTransferables(reply.batch) : [];
        port.postMessage(reply, transfer);
      } catch (error) {
        const e = error instanceof Error ? error : new Error(String(error));
        port.postMessage({ type: "error", id: r.id, name: e.name, message: e.message } satisfies Reply);
      }
    });
  };
}

export class FeedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name === "Error" ? "FeedError" : name;
  }
}

/** The trainer's end of the port. */
export class FeedClient {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();

  constructor(private readonly port: FeedPort) {
    port.onmessage = (event) => {
      const reply = event.data as Reply;
      const w = this.waiting.get(reply.id);
      if (!w) return;
      this.waiting.delete(reply.id);
      if (reply.type === "error") w.reject(new FeedError(reply.name, reply.message));
      else w.resolve(reply);
    };
  }

  request(r: { type: "open"; open: OpenRequest } | { type: "next" } | { type: "close" }): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.port.postMessage({ ...r, id });
    });
  }

  /** Opens a source in the data worker; `words` is the vocabulary when one was asked for. */
  async open(o: OpenRequest): Promise<{ source: RemoteSource; words: string[] | null }> {
    const reply = await this.request({ type: "open", open: o });
    if (reply.type !== "opened") throw new Error(`the data worker answered ${reply.type} to open`);
    return { source: new RemoteSource(this, o.batch, reply.position), words: reply.words };
  }
}

/** The data worker's source as seen by the trainer: whole batches, with their positions. */
export class RemoteSource implements ExampleSource {
  private current: SourcePosition;
  private counts: SkipCounts = emptySkipCounts();
  private closed = false;

  constructor(
    private readonly client: FeedClient,
    readonly batch: number,
    position: SourcePosition,
  ) {
    this.current = position;
  }

  get skipped(): SkipCounts {
    return this.counts;
  }

  async next(n: number): Promise<Example[]> {
    if (n !== this.batch) throw new Error(`this source was opened for batches of ${this.batch}, not ${n}`);
    if (this.closed) return [];
    const reply = await this.client.request({ type: "next" });
    if (reply.type !== "batch") throw new Error(`the data worker answered ${reply.type} to next`);
    this.counts = reply.skipped;
    if (!reply.batch) return [];
    this.current = reply.batch.position;
    return unpackBatch(reply.batch);
  }

  position(): SourcePosition {
    return this.current;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.request({ type: "close" });
  }
}
