// Streams training samples from WebDataset tar shards (img2dataset's layout, see sample.ts):
// several shards open at once and read round-robin, an optional seeded shuffle buffer, repeated
// epochs, and a position that can be saved and given back to continue exactly where it was.
//
// Order. Shards are taken in list order (or a seeded permutation per epoch with shuffleShards);
// `openShards` of them are open at once. Each turn takes the next valid sample of one open shard
// and moves to the next shard; a finished shard's place goes to the next shard of the order. The
// shuffle buffer keeps `shuffle` samples and hands out a uniformly chosen one each time.
//
// Resume. The sample stream is a deterministic function of the shard list, the options and the
// position: which shards are open, how many groups of each were read, the turn, the next shard to
// open, the RNG state, and which samples sit in the shuffle buffer, named by (shard, index). A
// resumed iterator reopens the open shards, skips the groups already read (taking the buffered
// samples' bytes on the way, and reading any shard already closed that still has samples in the
// buffer), and then yields exactly what the uninterrupted run would have yielded next.
//
// Bad data never throws out of the iterator: it is skipped and counted in `skipped`, once: only
// shards opened in the first pass over the list (epoch 0) count, so the shuffle buffer and later
// epochs, which read the same shards again, do not count the same sample twice. Only misuse
// throws (an empty shard list, a local path without openFile, a position from other options).
// When a whole epoch yields no sample at all (every shard failed), the stream ends, even with
// epochs = Infinity.
import { Rng } from "../../tensor/rng";
import { emptySkipCounts, type SkipCounts, type SkipReason } from "../skips";
import { type Group, ShardGroups } from "./groups";
import { type Sample, toSample } from "./sample";
import { isUrl } from "./shards";
import { openShard, type ShardRef, type SourceOptions, shardName } from "./source";

export interface WebDatasetOptions {
  /** Seed of the shuffle buffer and of the shard order. Default 0. */
  seed?: number;
  /** Shuffle buffer size in samples; 0 or 1 keeps the stream order. Default 0. */
  shuffle?: number;
  /** Permute the shards anew each epoch (seeded). Default false. */
  shuffleShards?: boolean;
  /** Shards open and interleaved at once. Default 4. */
  openShards?: number;
  /** Passes over the shard list; Infinity repeats forever. Default 1. */
  epochs?: number;
  /** Captions longer than this many characters are cut (counted as caption_truncated). Default 1000. */
  maxCaptionChars?: number;
  /** Image entries larger than this are skipped unread (image_too_large). Default 32 MiB. */
  maxImageBytes?: number;
  /** How shards are opened: retries and stall timeout for URLs, openFile for local paths. */
  source?: SourceOptions;
  /** Continue from a position saved by position(). */
  position?: WebDatasetPosition;
}

/** Where a WebDataset stands; JSON-able, a few numbers per open shard and per buffered sample. */
export interface WebDatasetPosition {
  version: 1;
  /** Number of shards and a hash of their names: the list the position belongs to. */
  shards: string;
  seed: number;
  shuffle: number;
  shuffleShards: boolean;
  openShards: number;
  /** The next shard to open is order(epoch)[next]. */
  epoch: number;
  next: number;
  /**
   * The open shards in turn order: [shard index in the list, groups read, 1 if opened in the first
   * pass (its skips are counted) else 0]. Positions saved before the flag: first pass if epoch 0.
   */
  open: ([number, number] | [number, number, number])[];
  turn: number;
  /** The shuffle buffer: [shard index, sample index in the shard, 1 if read in the first pass else 0]. */
  buffer: ([number, number] | [number, number, number])[];
  rng: number[];
  /** Samples yielded so far. */
  samples: number;
  skipped: SkipCounts;
}

interface OpenShard {
  shard: number;
  groups: ShardGroups;
  /** Groups read so far. */
  read: number;
  /** Opened in the first pass over the shard list: its skips are counted. */
  firstPass: boolean;
}

interface Held {
  shard: number;
  sample: Sample;
}

export class WebDataset implements AsyncIterableIterator<Sample> {
  /** Skipped samples and shards by reason; decoders may count into it too. */
  readonly skipped: SkipCounts = emptySkipCounts();
  private readonly seed: number;
  private readonly shuffle: number;
  private readonly shuffleShards: boolean;
  private readonly openShards: number;
  private readonly epochs: number;
  private readonly maxCaptionChars: number;
  private readonly maxImageBytes: number;
  private readonly source: SourceOptions;
  private readonly fingerprint: string;
  private rng: Rng;
  private epoch = 0;
  private nextInOrder = 0;
  private order: { epoch: number; shards: number[] } | null = null;
  private open: OpenShard[] = [];
  private turn = 0;
  private buffer: Held[] = [];
  private samples = 0;
  /** Epoch ends passed in a row without a sample read since the previous one (all shards failing). */
  private barren = 0;
  private pulledSinceEpochEnd = false;
  /**
   * Shards that could not be read after all retries (shard_failed): later epochs of this reader
   * leave them out rather than wait through their retries again each epoch. Not part of the
   * position: a resumed reader tries them again.
   */
  private readonly failed = new Set<number>();
  private restore: WebDatasetPosition | null;
  private started = false;
  private busy = false;
  private closed = false;
  private count = (reason: SkipReason) => {
    this.skipped[reason]++;
  };
  private ignore = () => {};

  constructor(
    private readonly shards: readonly ShardRef[],
    options: WebDatasetOptions = {},
  ) {
    if (shards.length === 0) throw new Error("WebDataset needs at least one shard; got an empty list");
    const local = shards.find((s) => typeof s === "string" && !isUrl(s));
    if (local !== undefined && !options.source?.openFile) {
      throw new Error(`shard "${shardName(local)}" is a local path: pass source.openFile (source-node.ts)`);
    }
    this.seed = options.seed ?? 0;
    this.shuffle = options.shuffle ?? 0;
    this.shuffleShards = options.shuffleShards ?? false;
    this.openShards = options.openShards ?? 4;
    this.epochs = options.epochs ?? 1;
    this.maxCaptionChars = options.maxCaptionChars ?? 1000;
    this.maxImageBytes = options.maxImageBytes ?? 32 * 1024 * 1024;
    this.source = options.source ?? {};
    if (!(Number.isInteger(this.openShards) && this.openShards >= 1)) {
      throw new Error(`openShards must be a positive integer; got ${this.openShards}`);
    }
    if (!(Number.isInteger(this.shuffle) && this.shuffle >= 0)) {
      throw new Error(`shuffle must be a buffer size >= 0; got ${this.shuffle}`);
    }
    if (!(this.epochs >= 1)) throw new Error(`epochs must be >= 1; got ${this.epochs}`);
    this.fingerprint = fingerprint(shards);
    this.rng = new Rng(this.seed);
    this.restore = options.position ? structuredClone(options.position) : null;
    if (this.restore) this.check(this.restore);
  }

  [Symbol.asyncIterator](): WebDataset {
    return this;
  }

  async next(): Promise<IteratorResult<Sample, undefined>> {
    if (this.busy) throw new Error("WebDataset.next() called again before the previous call finished");
    this.busy = true;
    try {
      if (!this.started) await this.start();
      const held = this.closed ? null : await this.take();
      if (!held) {
        await this.close();
        return { done: true, value: undefined };
      }
      this.samples++;
      return { done: false, value: held.sample };
    } finally {
      this.busy = false;
    }
  }

  async return(): Promise<IteratorResult<Sample, undefined>> {
    await this.close();
    return { done: true, value: undefined };
  }

  /** Stops all downloads and drops the shuffle buffer; the iterator is done from then on. */
  async close(): Promise<void> {
    this.closed = true;
    const open = this.open;
    this.open = [];
    this.buffer = [];
    await Promise.all(open.map((o) => o.groups.close()));
  }

  /** The position after the last yielded sample: give it back as options.position to continue. */
  position(): WebDatasetPosition {
    if (this.busy) throw new Error("WebDataset.position() called while next() is running");
    if (this.restore) return structuredClone(this.restore);
    return {
      version: 1,
      shards: this.fingerprint,
      seed: this.seed,
      shuffle: this.shuffle,
      shuffleShards: this.shuffleShards,
      openShards: this.openShards,
      epoch: this.epoch,
      next: this.nextInOrder,
      open: this.open.map((o) => [o.shard, o.read, o.firstPass ? 1 : 0]),
      turn: this.turn,
      buffer: this.buffer.map((h) => [h.shard, h.sample.index, h.sample.firstPass ? 1 : 0]),
      rng: [...this.rng.state],
      samples: this.samples,
      skipped: { ...this.skipped },
    };
  }

  private async start(): Promise<void> {
    this.started = true;
    if (this.restore) await this.resume(this.restore);
    this.restore = null;
    while (this.open.length < this.openShards) {
      const shard = this.openNext();
      if (!shard) break;
      this.open.push(shard);
    }
  }

  /** The next sample, through the shuffle buffer. */
  private async take(): Promise<Held | null> {
    if (this.shuffle <= 1) return this.pull();
    while (this.buffer.length < this.shuffle) {
      const held = await this.pull();
      if (!held) break;
      this.buffer.push(held);
    }
    if (this.buffer.length === 0) return null;
    const j = this.rng.int(this.buffer.length);
    const out = this.buffer[j];
    this.buffer[j] = this.buffer[this.buffer.length - 1];
    this.buffer.pop();
    return out;
  }

  /** The next valid sample of the open shard whose turn it is, round-robin. */
  private async pull(): Promise<Held | null> {
    while (this.open.length > 0) {
      this.turn %= this.open.length;
      const o = this.open[this.turn];
      const group = await o.groups.next();
      if (this.closed) return null;
      if (group) {
        o.read++;
        const count = o.firstPass ? this.count : this.ignore;
        const name = shardName(this.shards[o.shard]);
        const sample = toSample(group, name, this.maxCaptionChars, count, o.firstPass);
        if (typeof sample === "string") {
          count(sample);
          continue;
        }
        this.turn++;
        this.pulledSinceEpochEnd = true;
        return { shard: o.shard, sample };
      }
      if (o.groups.failure && o.firstPass) this.count(o.groups.failure);
      if (o.groups.failure === "shard_failed") this.failed.add(o.shard);
      const replacement = this.openNext();
      if (replacement) this.open[this.turn] = replacement;
      else this.open.splice(this.turn, 1);
    }
    return null;
  }

  private openNext(): OpenShard | null {
    while (this.epoch < this.epochs) {
      const order = this.epochOrder(this.epoch);
      if (this.nextInOrder < order.length) {
        const shard = order[this.nextInOrder++];
        if (this.failed.has(shard)) continue;
        return this.openShard(shard, this.epoch === 0);
      }
      this.epoch++;
      this.nextInOrder = 0;
      // A whole epoch without one sample (every shard failed or was empty): more epochs would
      // only fail again, so the stream ends instead of spinning.
      this.barren = this.pulledSinceEpochEnd ? 0 : this.barren + 1;
      this.pulledSinceEpochEnd = false;
      if (this.barren >= 2) return null;
    }
    return null;
  }

  private openShard(shard: number, firstPass: boolean): OpenShard {
    const bytes = openShard(this.shards[shard], this.source);
    return { shard, groups: new ShardGroups(bytes, this.maxImageBytes), read: 0, firstPass };
  }

  private epochOrder(epoch: number): number[] {
    if (this.order?.epoch !== epoch) {
      const shards = this.shards.map((_, i) => i);
      if (this.shuffleShards) {
        const rng = new Rng((Math.imul(this.seed, 0x9e3779b1) + epoch + 1) >>> 0);
        for (let i = shards.length - 1; i > 0; i--) {
          const j = rng.int(i + 1);
          [shards[i], shards[j]] = [shards[j], shards[i]];
        }
      }
      this.order = { epoch, shards };
    }
    return this.order.shards;
  }

  private async resume(p: WebDatasetPosition): Promise<void> {
    const id = (shard: number, index: number) => `${shard}/${index}`;
    const wanted = new Set(p.buffer.map(([shard, index]) => id(shard, index)));
    // The first-pass flags of positions saved before they were kept.
    const firstPass = (flag: number | undefined) => (flag === undefined ? p.epoch === 0 : flag === 1);
    const found = new Map<string, Sample>();
    const quiet = () => {};
    const keep = (shard: number, group: Group) => {
      if (found.has(id(shard, group.index)) || !wanted.has(id(shard, group.index))) return;
      const sample = toSample(group, shardName(this.shards[shard]), this.maxCaptionChars, quiet);
      if (typeof sample !== "string") found.set(id(shard, group.index), sample);
    };
    // Which groups to read while skipping: buffered ones not found yet, and all from `from` on
    // (the first group after the skipped ones starts while the last skipped one ends).
    const wants = (shard: number, from: number) => (index: number) =>
      index >= from || (wanted.has(id(shard, index)) && !found.has(id(shard, index)));

    for (const [shard, read, flag] of p.open) {
      const o = this.openShard(shard, firstPass(flag));
      while (o.read < read) {
        const group = await o.groups.next(wants(shard, read));
        if (!group) break;
        keep(shard, group);
        o.read++;
      }
      this.open.push(o);
    }
    // Buffered samples of shards that were closed by the time the position was taken.
    const missing = new Map<number, number>();
    for (const [shard, index] of p.buffer) {
      if (!found.has(id(shard, index))) missing.set(shard, Math.max(index, missing.get(shard) ?? -1));
    }
    for (const [shard, last] of missing) {
      const groups = this.openShard(shard, false).groups;
      const read = wants(shard, Number.POSITIVE_INFINITY);
      let group = await groups.next(read);
      while (group) {
        keep(shard, group);
        group = group.index < last ? await groups.next(read) : null;
      }
      await groups.close();
    }

    const used = new Set<string>();
    for (const [shard, index, flag] of p.buffer) {
      const sample = found.get(id(shard, index));
      if (!sample) continue; // its shard could not be read again
      const held = used.has(id(shard, index)) ? structuredClone(sample) : sample;
      this.buffer.push({ shard, sample: { ...held, firstPass: firstPass(flag) } });
      used.add(id(shard, index));
    }
    this.epoch = p.epoch;
    this.nextInOrder = p.next;
    this.turn = p.turn;
    this.rng.state = Uint32Array.from(p.rng);
    this.samples = p.samples;
    Object.assign(this.skipped, p.skipped);
  }

  private check(p: WebDatasetPosition): void {
    if (p.version !== 1) throw new Error(`unknown WebDataset position version ${p.version}`);
    const expected: [string, unknown, unknown][] = [
      ["shards", p.shards, this.fingerprint],
      ["seed", p.seed, this.seed],
      ["shuffle", p.shuffle, this.shuffle],
      ["shuffleShards", p.shuffleShards, this.shuffleShards],
      ["openShards", p.openShards, this.openShards],
    ];
    const differ = expected.filter(([, saved, now]) => saved !== now);
    if (differ.length > 0) {
      const list = differ.map(
        ([name, saved, now]) => `${name} ${JSON.stringify(saved)} vs ${JSON.stringify(now)}`,
      );
      throw new Error(`position was saved with other shards or options (saved vs now): ${list.join(", ")}`);
    }
  }
}

/** Number of shards and an FNV-1a hash of their names. */
function fingerprint(shards: readonly ShardRef[]): string {
  let h = 0x811c9dc5;
  for (const ref of shards) {
    for (const c of `${shardName(ref)}\n`) h = Math.imul(h ^ c.codePointAt(0)!, 0x01000193) >>> 0;
  }
  return `${shards.length}:${h.toString(16).padStart(8, "0")}`;
}
