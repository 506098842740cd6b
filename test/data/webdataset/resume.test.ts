import { describe, expect, it } from "vitest";
import { WebDataset, type WebDatasetOptions } from "../../../src/data/webdataset/reader";
import type { Sample } from "../../../src/data/webdataset/sample";
import { collect, encodedImage, ids, makeSamples, makeShards, tarFile } from "../fixtures";

/** All samples, read with a save and restore (through JSON) after each of `stops` samples. */
async function withStops(shards: File[], options: WebDatasetOptions, stops: number[]) {
  const out: Sample[] = [];
  let dataset = new WebDataset(shards, options);
  for (const stop of stops) {
    out.push(...(await collect(dataset, stop - out.length)));
    const position = JSON.parse(JSON.stringify(dataset.position()));
    await dataset.return();
    dataset = new WebDataset(shards, { ...options, position });
  }
  out.push(...(await collect(dataset)));
  return { samples: out, skipped: dataset.skipped, position: dataset.position() };
}

async function expectExactResume(shards: File[], options: WebDatasetOptions) {
  const straight = new WebDataset(shards, options);
  const all = await collect(straight);
  const n = all.length;
  for (let k = 0; k <= n; k++) {
    const resumed = await withStops(shards, options, [k]);
    expect(ids(resumed.samples), `stop after ${k}`).toEqual(ids(all));
    expect(resumed.skipped, `stop after ${k}`).toEqual(straight.skipped);
  }
  const chained = await withStops(shards, options, [1, 3, Math.floor(n / 2), n - 1]);
  expect(chained.samples).toEqual(all); // bytes, captions and metadata too
  expect(chained.position.samples).toBe(n);
  return all;
}

describe("WebDataset resume", () => {
  it("continues exactly without shuffling", async () => {
    const shards = await makeShards(await makeSamples(23), 5);
    await expectExactResume(shards, { openShards: 1 });
    await expectExactResume(shards, { openShards: 3 });
  });

  it("continues exactly with a shuffle buffer that holds samples of shards already closed", async () => {
    const shards = await makeShards(await makeSamples(40), 5);
    const all = await expectExactResume(shards, { seed: 7, shuffle: 12, openShards: 3 });
    // The first sample out of the buffer sits in it until the end: its shard closed long before.
    const dataset = new WebDataset(shards, { seed: 7, shuffle: 12, openShards: 3 });
    await collect(dataset, 30);
    const position = dataset.position();
    const open = new Set(position.open.map(([shard]) => shard));
    expect(position.buffer.some(([shard]) => !open.has(shard))).toBe(true);
    expect(JSON.stringify(position).length).toBeLessThan(1000);
    expect(all).toHaveLength(40);
  });

  it("continues exactly across epochs with permuted shards, the same sample twice in the buffer", async () => {
    const shards = await makeShards(await makeSamples(6), 3);
    const options = { seed: 3, shuffle: 10, openShards: 4, epochs: 3, shuffleShards: true };
    const all = await expectExactResume(shards, options);
    expect(all).toHaveLength(18);
    const dataset = new WebDataset(shards, options);
    await collect(dataset, 4);
    const buffer = dataset.position().buffer.map(([shard, index]) => `${shard}/${index}`);
    expect(new Set(buffer).size).toBeLessThan(buffer.length);
  });

  it("continues exactly over skipped samples and damaged shards, statistics included", async () => {
    const good = await makeShards(await makeSamples(12), 4, "good");
    const png = await encodedImage(9);
    const holes = await tarFile("holes.tar", [
      ["a.png", png],
      ["a.txt", "ok"],
      ["b.png", png],
      ["c.txt", "no image"],
      ["d.png", png],
      ["d.txt", "x".repeat(2000)],
      ["e.png", png],
      ["e.txt", new Uint8Array([0xc3])],
      ["f.png", png],
      ["f.txt", "ok"],
    ]);
    const full = new Uint8Array(await good[1].arrayBuffer());
    const truncated = new File([full.slice(0, full.length - 1536)], "truncated.tar");
    const shards = [good[0], holes, truncated, good[2]];
    const all = await expectExactResume(shards, { seed: 1, shuffle: 4, openShards: 2 });
    const straight = new WebDataset(shards, { seed: 1, shuffle: 4, openShards: 2 });
    await collect(straight);
    expect(straight.skipped).toMatchObject({
      missing_caption: 1,
      missing_image: 1,
      bad_utf8: 1,
      caption_truncated: 1,
      truncated_shard: 1,
    });
    expect(all.length).toBe(4 + 3 + 3 + 4);
  });

  it("resumes from a position taken before the first sample", async () => {
    const shards = await makeShards(await makeSamples(10), 3);
    const options = { seed: 2, shuffle: 5 };
    const fresh = new WebDataset(shards, options);
    const position = fresh.position();
    expect(ids(await collect(new WebDataset(shards, { ...options, position })))).toEqual(
      ids(await collect(fresh)),
    );
  });

  it("refuses a position saved with other shards or options", async () => {
    const shards = await makeShards(await makeSamples(10), 3);
    const position = new WebDataset(shards, { seed: 1, shuffle: 4 }).position();
    expect(() => new WebDataset(shards, { seed: 2, shuffle: 4, position })).toThrow(/seed 1 vs 2/);
    expect(() => new WebDataset(shards.slice(1), { seed: 1, shuffle: 4, position })).toThrow(/shards "4:/);
    expect(() => new WebDataset(shards, { seed: 1, shuffle: 8, openShards: 2, position })).toThrow(
      /shuffle 4 vs 8, openShards 4 vs 2/,
    );
  });
});
