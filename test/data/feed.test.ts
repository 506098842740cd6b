// The data worker's logic in Node: batches packed and unpacked, a prefetcher that reads ahead
// yet gives each batch the position right after it, and the MessagePort feed between the data
// worker and the trainer resuming each dataset exactly (N batches straight equal k batches, a
// saved position, then N - k batches from a fresh source). Bad input: a corrupt image and a
// failing shard URL are skipped and counted, no shards at all is an error, and shards that all
// fail end the stream instead of spinning.
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NODE_DATA } from "../../src/cli/data";
import { BatchPrefetcher, batchTransferables, packBatch, unpackBatch } from "../../src/data/batches";
import {
  type DataEnv,
  type DataSpec,
  dataNotes,
  dataSpecFromNotes,
  openExampleSource,
  vocabularyCaptions,
} from "../../src/data/datasets";
import { type Example, ScenesSource, type SourcePosition } from "../../src/data/examples";
import { FeedClient, type FeedPort, type OpenRequest, serveFeed } from "../../src/data/feed";
import { emptySkipCounts } from "../../src/data/skips";
import { folderSink } from "../../src/data/webdataset/sink-node";
import { writeShards } from "../../src/data/webdataset/write";
import { encodedImage, makeSamples } from "./fixtures";

const sha = (e: Example) =>
  `${e.key}|${e.webCaption}|${e.syntheticCaption}|${e.image.width}x${e.image.height}|${createHash("sha256").update(e.image.data).digest("hex")}`;

let dir = "";
let pattern = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tips-feed-"));
  const samples = await makeSamples(21);
  // Sample 5's image keeps its PNG header but not its pixels: it must be skipped as bad_image.
  samples[5] = { ...samples[5], image: await encodedImage(5, "png", 9, 9), imageType: "png" };
  samples[5].image.fill(0x42, 40);
  const written = await writeShards(samples, folderSink(dir), { prefix: "feed", samplesPerShard: 6 });
  expect(written.shards.length).toBe(4);
  pattern = join(dir, "feed-{000000..000003}.tar");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A data worker and a trainer end joined by a MessageChannel (Node's, which transfers buffers too). */
function feed(env: DataEnv = NODE_DATA): FeedClient {
  const channel = new MessageChannel();
  serveFeed(channel.port1 as unknown as FeedPort, {
    open: (spec, o) => openExampleSource(spec, o, env),
    captions: (spec) => vocabularyCaptions(spec, env, 50),
  });
  return new FeedClient(channel.port2 as unknown as FeedPort);
}

function request(spec: DataSpec, position: SourcePosition | null = null, batch = 4): OpenRequest {
  return { spec, batch, prefetch: 3, size: 24, seed: 7, position, vocabularySize: position ? null : 40 };
}

describe("batches", () => {
  it("pack into one pixel buffer and unpack to the same examples", async () => {
    const source = new ScenesSource({ size: 16 });
    const examples = [...(await source.next(2)), ...(await new ScenesSource({ size: 24 }).next(1))];
    const packed = packBatch(examples, source.position(), source.skipped);
    expect(packed.pixels.length).toBe(2 * 16 * 16 * 4 + 24 * 24 * 4);
    expect(batchTransferables(packed)).toEqual([packed.pixels.buffer, packed.sizes.buffer]);
    expect(unpackBatch(structuredClone(packed)).map(sha)).toEqual(examples.map(sha));
    expect(packed.position).toEqual({ kind: "scenes", next: 2 });
  });

  it("are read ahead, each with the position right after it", async () => {
    const source = new ScenesSource({ size: 16 });
    let calls = 0;
    const next = source.next.bind(source);
    source.next = (n) => {
      calls++;
      return next(n);
    };
    const prefetcher = new BatchPrefetcher(source, 3, 2);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(2); // two batches decoded before anyone asked
    const first = await prefetcher.next();
    expect(first?.position).toEqual({ kind: "scenes", next: 3 });
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(3); // refilled
    expect(source.position()).toEqual({ kind: "scenes", next: 9 }); // the source is ahead...
    expect((await prefetcher.next())?.position).toEqual({ kind: "scenes", next: 6 }); // ...the batch is not
    const keys = unpackBatch((await prefetcher.next())!).map((e) => e.key);
    expect(keys).toEqual(["scenes-train-6", "scenes-train-7", "scenes-train-8"]);
  });

  it("end with null when the source cannot fill a batch, and pass a source's error on", async () => {
    const ends = new BatchPrefetcher(
      {
        ...new ScenesSource({ size: 8 }),
        next: async () => [],
        position: () => ({ kind: "scenes", next: 0 }),
      } as never,
      2,
    );
    expect(await ends.next()).toBeNull();
    expect(await ends.next()).toBeNull();
    const broken = new BatchPrefetcher(
      {
        skipped: emptySkipCounts(),
        next: async () => {
          throw new Error("disk on fire");
        },
        position: () => ({ kind: "scenes", next: 0 }),
        close: async () => {},
      },
      2,
    );
    await expect(broken.next()).rejects.toThrow("disk on fire");
  });
});

/** N batches straight, then k batches + the position + a fresh source from it for N - k batches. */
async function expectExactResume(spec: DataSpec, n: number, k: number) {
  const straight = feed();
  const { source, words } = await straight.open(request(spec));
  expect(words?.slice(0, 2)).toEqual(["<pad>", "<unk>"]);
  const all: string[] = [];
  for (let i = 0; i < n; i++) all.push(...(await source.next(4)).map(sha));
  const skipped = { ...source.skipped };
  await source.close();

  const first = feed();
  const a = (await first.open(request(spec))).source;
  const resumed: string[] = [];
  for (let i = 0; i < k; i++) resumed.push(...(await a.next(4)).map(sha));
  const position = JSON.parse(JSON.stringify(a.position())) as SourcePosition; // as a checkpoint stores it
  await a.close();
  const second = feed();
  const b = (await second.open(request(spec, position))).source;
  expect(b.position()).toEqual(position);
  for (let i = k; i < n; i++) resumed.push(...(await b.next(4)).map(sha));
  expect(resumed).toEqual(all);
  expect(b.skipped).toEqual(skipped);
  await b.close();
  return { all, skipped };
}

describe("feed over a MessagePort", () => {
  it("resumes scenes exactly", async () => {
    const { all } = await expectExactResume({ kind: "scenes" }, 3, 1);
    expect(all.length).toBe(12);
  });

  it("resumes openmoji exactly", async () => {
    const { all } = await expectExactResume({ kind: "openmoji" }, 3, 2);
    expect(new Set(all).size).toBe(12);
  }, 30_000);

  it("resumes shuffled shards exactly, a corrupt image skipped and counted", async () => {
    const spec = { kind: "shards", spec: pattern } as const;
    const { all } = await expectExactResume(spec, 7, 3);
    expect(all.length).toBe(28);
    // The shuffle buffer (1000) spans epochs: read on until the corrupt sample has come by.
    const { source } = await feed().open(request(spec));
    const keys: string[] = [];
    for (let i = 0; i < 300 && source.skipped.bad_image === 0; i++)
      keys.push(...(await source.next(4)).map((e) => e.key));
    expect(source.skipped.bad_image).toBeGreaterThanOrEqual(1);
    expect(keys).not.toContain("000000005");
    await source.close();
  }, 60_000);

  it("refuses an empty shard list before anything is read", async () => {
    await expect(feed().open(request({ kind: "files", files: [] }))).rejects.toThrow(
      "no shard files were picked",
    );
    await expect(feed().open(request({ kind: "shards", spec: " \n " }))).rejects.toThrow("no shards given");
  });

  it("retries a failing shard URL, then skips it (counted) and reads the others", async () => {
    let tries = 0;
    const env: DataEnv = {
      ...NODE_DATA,
      source: {
        ...NODE_DATA.source,
        attempts: 2,
        baseDelayMs: 1,
        fetch: async () => {
          tries++;
          return new Response("down", { status: 503, statusText: "Service Unavailable" });
        },
      },
    };
    const client = feed(env);
    const spec = { kind: "shards", spec: `https://example.invalid/gone.tar,${pattern}` } as const;
    const { source } = await client.open(request(spec));
    const keys = (await source.next(4)).map((e) => e.key);
    expect(keys.length).toBe(4);
    expect(source.skipped.shard_failed).toBe(1);
    // 2 tries while the vocabulary is read, 2 for the stream; the shuffle buffer's many epochs
    // leave the failed shard out instead of waiting through its retries again.
    expect(tries).toBe(4);
    await source.close();
  });

  it("ends the stream (no endless retrying) when every shard fails", async () => {
    const env: DataEnv = {
      ...NODE_DATA,
      source: { attempts: 1, fetch: async () => new Response("", { status: 404, statusText: "Not Found" }) },
    };
    const client = feed(env);
    const spec = {
      kind: "shards",
      spec: "https://example.invalid/a.tar,https://example.invalid/b.tar",
    } as const;
    // No captions to build a vocabulary from: a clear error before training starts, naming a URL and its status.
    await expect(client.open(request(spec))).rejects.toThrow(
      "(skipped: shard_failed 2; https://example.invalid/a.tar: HTTP 404 Not Found (1 try))",
    );
    const { source } = await client.open({ ...request(spec), vocabularySize: null });
    expect(await source.next(4)).toEqual([]);
    expect(source.skipped.shard_failed).toBe(2);
  });
});

describe("checkpoint notes", () => {
  it("name the data, and shards picked as files must be picked again to resume", () => {
    expect(dataSpecFromNotes(dataNotes({ kind: "scenes" }))).toEqual({ kind: "scenes" });
    expect(dataSpecFromNotes(dataNotes({ kind: "openmoji" }))).toEqual({ kind: "openmoji" });
    expect(dataSpecFromNotes({ data: "https://x.org/a-{0..3}.tar" })).toEqual({
      kind: "shards",
      spec: "https://x.org/a-{0..3}.tar",
    });
    expect(dataSpecFromNotes({})).toEqual({ kind: "scenes" }); // checkpoints from before data notes
    const files = [new File(["a"], "a.tar"), new File(["b"], "b.tar")];
    const notes = dataNotes({ kind: "files", files });
    expect(notes).toEqual({ data: "a.tar,b.tar", dataFiles: ["a.tar", "b.tar"] });
    expect(() => dataSpecFromNotes(notes)).toThrow("pick the same files again");
    expect(() => dataSpecFromNotes(notes, [files[1], files[0]])).toThrow("same names, same order");
    expect(dataSpecFromNotes(notes, files)).toEqual({ kind: "files", files });
  });
});
