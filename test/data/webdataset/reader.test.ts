import { describe, expect, it } from "vitest";
import { emptySkipCounts } from "../../../src/data/skips";
import { WebDataset } from "../../../src/data/webdataset/reader";
import { openFile } from "../../../src/data/webdataset/source-node";
import { collect, encodedImage, ids, makeSamples, makeShards, tarFile } from "../fixtures";

/** Byte offset of the tar header of entry `name`. */
function headerOffset(tar: Uint8Array, name: string): number {
  const want = new TextEncoder().encode(name);
  for (let at = 0; at + 512 <= tar.length; at += 512) {
    if (want.every((b, i) => tar[at + i] === b) && tar[at + want.length] === 0) return at;
  }
  throw new Error(`no entry ${name}`);
}

async function bytesOf(file: File): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await file.arrayBuffer());
}

describe("WebDataset samples", () => {
  it("reads captions, metadata and the synthetic caption (json field or .syn.txt)", async () => {
    const png = await encodedImage(1);
    const shard = await tarFile("s.tar", [
      ["dir/a.jpg", png],
      ["dir/a.json", JSON.stringify({ synthetic_caption: "  from json ", url: "u" })],
      ["dir/a.txt", " a web caption\n"],
      ["b.json", JSON.stringify({ synthetic_caption: "from json" })],
      ["b.PNG", png],
      ["b.syn.txt", "from syn.txt 😀"],
      ["b.txt", "b"],
      ["c.json", JSON.stringify({ synthetic_caption: ["not", "a", "string"] })],
      ["c.txt", "c"],
      ["c.webp", png],
      ["c.npy", "ignored"],
      ["d.jpeg", png],
      ["d.txt", "d"],
    ]);
    const dataset = new WebDataset([shard]);
    const samples = await collect(dataset);
    expect(samples.map((s) => [s.key, s.index, s.imageType, s.webCaption, s.syntheticCaption])).toEqual([
      ["dir/a", 0, "jpeg", "a web caption", "from json"],
      ["b", 1, "png", "b", "from syn.txt 😀"],
      ["c", 2, "webp", "c", null],
      ["d", 3, "jpeg", "d", null],
    ]);
    expect(samples[0].meta).toEqual({ synthetic_caption: "  from json ", url: "u" });
    expect(samples[0].image).toEqual(png);
    expect(samples[0].shard).toBe("s.tar");
    expect(samples[3].meta).toEqual({});
  });

  it("skips samples without image or caption, or with non-UTF-8 captions, and counts why", async () => {
    const png = await encodedImage(2);
    const shard = await tarFile("bad.tar", [
      ["no-txt.png", png],
      ["no-txt.json", "{}"],
      ["no-image.json", "{}"],
      ["no-image.txt", "caption"],
      ["blank.png", png],
      ["blank.txt", " \n "],
      ["latin1.png", png],
      ["latin1.txt", new Uint8Array([0x63, 0x61, 0x66, 0xe9])], // "café" in Latin-1
      ["bad-syn.png", png],
      ["bad-syn.syn.txt", new Uint8Array([0xff, 0xfe])],
      ["bad-syn.txt", "fine"],
      ["bad-json.json", new Uint8Array([0x7b, 0xff, 0x7d])],
      ["bad-json.png", png],
      ["bad-json.txt", "kept"],
      ["array-json.json", "[1, 2]"],
      ["array-json.png", png],
      ["array-json.txt", "kept too"],
      ["good.png", png],
      ["good.txt", "good"],
    ]);
    const dataset = new WebDataset([shard]);
    const samples = await collect(dataset);
    expect(samples.map((s) => [s.key, s.index, s.meta])).toEqual([
      ["bad-json", 5, {}],
      ["array-json", 6, {}],
      ["good", 7, {}],
    ]);
    expect(dataset.skipped).toMatchObject({ missing_caption: 2, missing_image: 1, bad_utf8: 2, bad_json: 2 });
  });

  it("cuts overlong captions to maxCaptionChars code points and counts them", async () => {
    const png = await encodedImage(3);
    const long = "word ".repeat(10_000); // 50k characters
    const emoji = "😀".repeat(1500);
    const shard = await tarFile("long.tar", [
      ["a.png", png],
      ["a.txt", long],
      ["b.json", JSON.stringify({ synthetic_caption: emoji })],
      ["b.png", png],
      ["b.txt", "short"],
      ["c.png", png],
      ["c.txt", "x".repeat(1000)],
    ]);
    const dataset = new WebDataset([shard]);
    const [a, b, c] = await collect(dataset);
    expect(a.webCaption).toBe(long.slice(0, 1000));
    expect(b.webCaption).toBe("short");
    expect(b.syntheticCaption).toBe("😀".repeat(1000));
    expect(c.webCaption).toHaveLength(1000);
    expect(dataset.skipped.caption_truncated).toBe(2);

    const shorter = new WebDataset([shard], { maxCaptionChars: 10 });
    expect((await collect(shorter)).map((s) => s.webCaption)).toEqual(["word word ", "short", "xxxxxxxxxx"]);
  });

  it("skips image entries over the byte limit without reading them", async () => {
    const shard = await tarFile("big.tar", [
      ["a.png", new Uint8Array(2000)],
      ["a.txt", "too big"],
      ["b.png", new Uint8Array(100)],
      ["b.txt", "fits"],
    ]);
    const dataset = new WebDataset([shard], { maxImageBytes: 1000 });
    expect((await collect(dataset)).map((s) => s.key)).toEqual(["b"]);
    expect(dataset.skipped.image_too_large).toBe(1);
  });
});

describe("WebDataset with damaged shards", () => {
  it("stops a truncated shard at its last complete sample and goes on with the next", async () => {
    const [first, second] = await makeShards(await makeSamples(20), 10);
    const tar = await bytesOf(first);
    const cut = headerOffset(tar, "000000005.json") + 512 + 5; // inside the entry's body
    const truncated = new File([tar.slice(0, cut)], first.name);
    const dataset = new WebDataset([truncated, second], { openShards: 1 });
    const samples = await collect(dataset);
    expect(samples.map((s) => s.key)).toEqual(
      [0, 1, 2, 3, 4, ...Array.from({ length: 10 }, (_, i) => 10 + i)].map((i) => String(i).padStart(9, "0")),
    );
    expect(dataset.skipped.truncated_shard).toBe(1);
    expect(dataset.skipped.bad_checksum).toBe(0);
  });

  it("counts a shard cut between entries (no end-of-archive blocks) as truncated", async () => {
    const [first] = await makeShards(await makeSamples(10), 10);
    const tar = await bytesOf(first);
    const cut = headerOffset(tar, "000000005.json");
    const dataset = new WebDataset([new File([tar.slice(0, cut)], first.name)]);
    const keys = (await collect(dataset)).map((s) => s.key);
    // Sample 4 may have had more entries after the cut, so it is dropped with the damage.
    expect(keys).toEqual(["000000000", "000000001", "000000002", "000000003"]);
    expect(dataset.skipped.truncated_shard).toBe(1);
  });

  it("stops a shard at a header with a bad checksum and goes on with the next", async () => {
    const [first, second] = await makeShards(await makeSamples(20), 10);
    const run = async (entry: string) => {
      const tar = await bytesOf(first);
      tar[headerOffset(tar, entry) + 3] ^= 0x01; // one bit of the name
      const dataset = new WebDataset([new File([tar], first.name), second], { openShards: 1 });
      const keys = (await collect(dataset)).map((s) => Number(s.key));
      expect(dataset.skipped.bad_checksum).toBe(1);
      expect(dataset.skipped.truncated_shard).toBe(0);
      return keys;
    };
    const next = Array.from({ length: 10 }, (_, i) => 10 + i);
    // Sample 7's entries are 7.jpg, 7.json, 7.txt. Damage in its first header leaves sample 6 in
    // progress (more of its entries could have followed), so it goes too; in its second, 6 is done.
    expect(await run("000000007.jpg")).toEqual([0, 1, 2, 3, 4, 5, ...next]);
    expect(await run("000000007.json")).toEqual([0, 1, 2, 3, 4, 5, 6, ...next]);
  });

  it("stops at the same sample however the bytes arrive", async () => {
    const [first] = await makeShards(await makeSamples(10), 10);
    const tar = await bytesOf(first);
    const truncated = tar.slice(0, headerOffset(tar, "000000006.png") + 512 + 20);
    const damaged = tar.slice();
    damaged[headerOffset(tar, "000000008.json") + 100] ^= 0x04; // the mode field
    const chunked = (bytes: Uint8Array, size: number) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < bytes.length; at += size) controller.enqueue(bytes.slice(at, at + size));
          controller.close();
        },
      });
    for (const [bytes, keys, reason] of [
      [truncated, 6, "truncated_shard"], // cut in 6.png, the second entry of sample 6: 0-5 are done
      [damaged, 7, "bad_checksum"], // in 8.json, the first entry of sample 8: 7 is still in progress
    ] as const) {
      for (const size of [7, 512, 1000, 1 << 20]) {
        const dataset = new WebDataset(["shard.tar"], { source: { openFile: () => chunked(bytes, size) } });
        expect((await collect(dataset)).map((s) => Number(s.key))).toEqual([...Array(keys).keys()]);
        expect(dataset.skipped[reason]).toBe(1);
      }
    }
  });

  it("counts a shard that cannot be opened as shard_failed", async () => {
    const [first] = await makeShards(await makeSamples(3), 10);
    const dataset = new WebDataset(["/nonexistent/shard-000000.tar", first], { source: { openFile } });
    expect(await collect(dataset)).toHaveLength(3);
    expect(dataset.skipped.shard_failed).toBe(1);
  });

  it("throws for misuse only: an empty list, a path without openFile, next() while next() runs", async () => {
    expect(() => new WebDataset([])).toThrow(/at least one shard; got an empty list/);
    expect(() => new WebDataset(["local.tar"])).toThrow(/local path: pass source.openFile/);
    const [first] = await makeShards(await makeSamples(2), 10);
    const dataset = new WebDataset([first]);
    const pending = dataset.next();
    await expect(dataset.next()).rejects.toThrow(/before the previous call finished/);
    await pending;
    await dataset.return();
  });
});

describe("WebDataset closing", () => {
  it("is done after return(), also when return() comes while next() runs", async () => {
    const shards = await makeShards(await makeSamples(10), 5);
    const dataset = new WebDataset(shards);
    const pending = dataset.next();
    await dataset.return();
    await pending; // a sample or the end, never an error
    expect((await dataset.next()).done).toBe(true);
    expect(dataset.skipped).toEqual(emptySkipCounts());
  });
});

describe("WebDataset order", () => {
  it("interleaves the open shards round-robin, refilling from the list", async () => {
    const shards = await makeShards(await makeSamples(9), 3, "rr"); // rr-0: 0-2, rr-1: 3-5, rr-2: 6-8
    const order = ids(await collect(new WebDataset(shards, { openShards: 2 })));
    const expected = ["0:0", "1:3", "0:1", "1:4", "0:2", "1:5", "2:6", "2:7", "2:8"].map((p) => {
      const [shard, key] = p.split(":");
      return `rr-00000${shard}.tar#${key.padStart(9, "0")}`;
    });
    expect(order).toEqual(expected);
  });

  it("shuffles deterministically per seed, over all samples", async () => {
    const shards = await makeShards(await makeSamples(30), 7);
    const run = async (seed: number, options = {}) =>
      ids(await collect(new WebDataset(shards, { seed, shuffle: 8, openShards: 3, ...options })));
    const plain = ids(await collect(new WebDataset(shards, { openShards: 3 })));
    const a = await run(1);
    expect(await run(1)).toEqual(a);
    expect(await run(2)).not.toEqual(a);
    expect(a).not.toEqual(plain);
    expect([...a].sort()).toEqual([...plain].sort());
    const permuted = await run(1, { shuffleShards: true });
    expect(permuted).not.toEqual(a);
    expect([...permuted].sort()).toEqual([...plain].sort());
  });

  it("repeats epochs, permuting the shards anew each epoch when asked", async () => {
    const shards = await makeShards(await makeSamples(12), 3);
    const once = ids(await collect(new WebDataset(shards, { openShards: 1 })));
    expect(ids(await collect(new WebDataset(shards, { openShards: 1, epochs: 2 })))).toEqual([
      ...once,
      ...once,
    ]);
    const shuffled = ids(
      await collect(new WebDataset(shards, { openShards: 1, epochs: 3, shuffleShards: true, seed: 5 })),
    );
    const firstShardOf = (epoch: number) => shuffled[epoch * 12].split("#")[0];
    expect(new Set([0, 1, 2].map(firstShardOf)).size).toBeGreaterThan(1);
    expect([...shuffled].sort()).toEqual([...once, ...once, ...once].sort());
    const forever = new WebDataset(shards, { epochs: Infinity });
    expect(await collect(forever, 100)).toHaveLength(100);
    await forever.return();
  });
});
