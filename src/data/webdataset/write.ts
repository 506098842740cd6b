// Writes samples as img2dataset-compatible WebDataset shards: `{prefix}-000000.tar`, ... with
// `samplesPerShard` samples each, sample keys numbered from 000000000 across shards, and per
// sample the entries `key.{jpg|png|webp}`, `key.json` holding {key, caption, synthetic_caption,
// ...meta} and `key.txt` holding the web caption, sorted by extension as webdataset writes them.
// Entry times are 0, so the same samples always give the same bytes. Where the bytes go is up to
// a sink (Node: folderSink from sink-node.ts, atomic per file; memorySink keeps them in memory).
import { createTarPacker, type TarPackController } from "modern-tar";
import type { ImageType } from "../image";
import { SYNTHETIC_CAPTION_FIELD } from "./sample";

export interface SampleToWrite {
  image: Uint8Array;
  imageType: ImageType;
  webCaption: string;
  syntheticCaption: string | null;
  /** More fields for key.json (key, caption and synthetic_caption are always ours). */
  meta?: Record<string, unknown>;
}

export interface ShardSink {
  /** Stores one finished shard, reading `tar` to its end; resolves once it is safely stored. */
  write(name: string, tar: ReadableStream<Uint8Array>): Promise<void>;
}

export interface WriteOptions {
  /** Shard names are `${prefix}-000000.tar`, ... */
  prefix: string;
  /** Default 10000, as img2dataset. */
  samplesPerShard?: number;
}

export interface WrittenShards {
  shards: string[];
  samples: number;
}

const EXTENSIONS: Record<ImageType, string> = { jpeg: "jpg", png: "png", webp: "webp" };
const encoder = new TextEncoder();

export function shardFileName(prefix: string, shard: number): string {
  return `${prefix}-${String(shard).padStart(6, "0")}.tar`;
}

export function sampleKey(index: number): string {
  return String(index).padStart(9, "0");
}

export async function writeShards(
  samples: AsyncIterable<SampleToWrite> | Iterable<SampleToWrite>,
  sink: ShardSink,
  options: WriteOptions,
): Promise<WrittenShards> {
  const perShard = options.samplesPerShard ?? 10_000;
  if (!(Number.isInteger(perShard) && perShard >= 1)) {
    throw new Error(`samplesPerShard must be a positive integer; got ${perShard}`);
  }
  const shards: string[] = [];
  let count = 0;
  let shard: { controller: TarPackController; stored: Promise<void> } | null = null;
  try {
    for await (const sample of samples) {
      if (!shard) {
        const name = shardFileName(options.prefix, shards.length);
        const { readable, controller } = createTarPacker();
        shard = { controller, stored: sink.write(name, readable) };
        shards.push(name);
      }
      await addSample(shard.controller, sampleKey(count), sample);
      count++;
      if (count % perShard === 0) {
        shard.controller.finalize();
        await shard.stored;
        shard = null;
      }
    }
    if (shard) {
      shard.controller.finalize();
      await shard.stored;
    }
  } catch (error) {
    if (shard) {
      shard.controller.error(error);
      await shard.stored.catch(() => {});
    }
    throw error;
  }
  return { shards, samples: count };
}

async function addSample(controller: TarPackController, key: string, sample: SampleToWrite): Promise<void> {
  const { key: _key, caption: _caption, [SYNTHETIC_CAPTION_FIELD]: _synthetic, ...extra } = sample.meta ?? {};
  const json = {
    key,
    caption: sample.webCaption,
    [SYNTHETIC_CAPTION_FIELD]: sample.syntheticCaption,
    ...extra,
  };
  const entries: [string, Uint8Array][] = [
    [EXTENSIONS[sample.imageType], sample.image],
    ["json", encoder.encode(JSON.stringify(json))],
    ["txt", encoder.encode(sample.webCaption)],
  ];
  entries.sort(([a], [b]) => (a < b ? -1 : 1));
  for (const [ext, bytes] of entries) await addEntry(controller, `${key}.${ext}`, bytes);
}

async function addEntry(controller: TarPackController, name: string, bytes: Uint8Array): Promise<void> {
  const writer = controller.add({ name, size: bytes.length, mtime: new Date(0), mode: 0o644 }).getWriter();
  if (bytes.length > 0) await writer.write(bytes);
  await writer.close();
}

/** A sink that keeps the shards in memory (tests; a browser download). */
export function memorySink(): ShardSink & { files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  return {
    files,
    async write(name, tar) {
      files.set(name, new Uint8Array(await new Response(tar).arrayBuffer()));
    },
  };
}
