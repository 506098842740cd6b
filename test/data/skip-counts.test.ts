// What the skip counts say after training reads a small dataset many times over: each bad sample
// and each damaged shard once (the first pass counts, the shuffle buffer and later epochs do not),
// also across a resume; and a sample with only one of its two captions is kept either way.
import { describe, expect, it } from "vitest";
import { SHARD_READING } from "../../src/data/datasets";
import { decodeImage } from "../../src/data/decode-node";
import { ShardSource } from "../../src/data/examples";
import { WebDataset } from "../../src/data/webdataset/reader";
import { collect, encodedImage, makeSamples, makeShards, tarFile } from "./fixtures";

/** A shard of 5 good samples, 2 without any caption, 1 without an image and 1 that does not decode. */
async function badShard(): Promise<File> {
  const png = await encodedImage(4);
  const good = Array.from({ length: 5 }, (_, i): [string, string | Uint8Array][] => [
    [`good${i}.png`, png],
    [`good${i}.txt`, `good ${i}`],
  ]);
  return tarFile("bad.tar", [
    ...good.flat(),
    ["blank.png", png],
    ["blank.txt", "  "],
    ["no-txt.png", png],
    ["no-txt.json", "{}"],
    ["no-image.txt", "caption"],
    ["garbage.png", new Uint8Array([1, 2, 3, 4])],
    ["garbage.txt", "not an image"],
  ]);
}

/** A shard of 6 samples cut in the middle of its 5th sample: 4 samples, then truncated. */
async function truncatedShard(): Promise<File> {
  const [whole] = await makeShards(await makeSamples(6), 6, "cut");
  const bytes = new Uint8Array(await whole.arrayBuffer());
  return new File([bytes.slice(0, Math.floor(bytes.length * 0.7))], "cut.tar");
}

const EXPECTED = { missing_caption: 2, missing_image: 1, truncated_shard: 1 };

describe("skip counts over many passes", () => {
  it("count each bad sample and damaged shard once, however often training reads them", async () => {
    const shards = [await badShard(), await truncatedShard()];
    // As training reads shards: a shuffle buffer (1000) far larger than the data, endless epochs.
    const dataset = new WebDataset(shards, SHARD_READING);
    const samples = await collect(dataset, 200);
    expect(samples).toHaveLength(200);
    expect(dataset.skipped).toMatchObject(EXPECTED);

    // The same after a save and resume half way.
    const first = new WebDataset(shards, SHARD_READING);
    await collect(first, 100);
    const position = JSON.parse(JSON.stringify(first.position()));
    await first.return();
    const resumed = new WebDataset(shards, { ...SHARD_READING, position });
    const rest = await collect(resumed, 100);
    expect(rest.map((s) => s.key)).toEqual(samples.slice(100).map((s) => s.key));
    expect(resumed.skipped).toEqual(dataset.skipped);
  });

  it("count an image that does not decode once, also across a resume", async () => {
    const shards = [await badShard()];
    const source = new ShardSource(shards, decodeImage, SHARD_READING);
    for (let i = 0; i < 10; i++) await source.next(4);
    const counts = { ...EXPECTED, truncated_shard: 0, bad_image: 1 };
    expect(source.skipped).toMatchObject(counts);
    const position = JSON.parse(JSON.stringify(source.position()));
    await source.close();
    const resumed = new ShardSource(shards, decodeImage, { ...SHARD_READING, position });
    for (let i = 0; i < 10; i++) await resumed.next(4);
    expect(resumed.skipped).toMatchObject(counts);
    await resumed.close();
  });
});

describe("samples with one caption", () => {
  it("train with the caption they have for both, either way round, and note a missing web caption", async () => {
    const png = await encodedImage(5);
    const shard = await tarFile("one-caption.tar", [
      ["syn-only.json", JSON.stringify({ synthetic_caption: " from json " })],
      ["syn-only.png", png],
      ["syn-only.txt", " "],
      ["syn-file.png", png],
      ["syn-file.syn.txt", "from syn.txt"],
      ["web-only.png", png],
      ["web-only.txt", "web only"],
      ["neither.json", "{not json"],
      ["neither.png", png],
      ["neither.syn.txt", ""],
    ]);
    const dataset = new WebDataset([shard]);
    const samples = await collect(dataset);
    expect(samples.map((s) => [s.key, s.webCaption, s.syntheticCaption])).toEqual([
      ["syn-only", "from json", "from json"],
      ["syn-file", "from syn.txt", "from syn.txt"],
      ["web-only", "web only", null],
    ]);
    // A note, not a skip; the dropped sample's bad JSON is not counted beside its missing caption.
    expect(dataset.skipped).toMatchObject({ web_caption_from_synthetic: 2, missing_caption: 1, bad_json: 0 });

    const source = new ShardSource([shard], decodeImage);
    const examples = await source.next(3);
    expect(examples.map((e) => [e.key, e.webCaption, e.syntheticCaption])).toEqual([
      ["syn-only", "from json", "from json"],
      ["syn-file", "from syn.txt", "from syn.txt"],
      ["web-only", "web only", "web only"],
    ]);
    await source.close();
  });
});
