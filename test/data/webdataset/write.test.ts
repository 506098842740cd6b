import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebDataset } from "../../../src/data/webdataset/reader";
import { resolveShards } from "../../../src/data/webdataset/shards";
import { folderSink } from "../../../src/data/webdataset/sink-node";
import { listTarFolder, openFile } from "../../../src/data/webdataset/source-node";
import { memorySink, type SampleToWrite, writeShards } from "../../../src/data/webdataset/write";
import { collect, makeSamples } from "../fixtures";

function hasTar(): boolean {
  try {
    execFileSync("tar", ["--version"]);
    return true;
  } catch {
    return false;
  }
}

describe("writeShards", () => {
  let dir = "";
  let samples: SampleToWrite[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "write-"));
    samples = await makeSamples(25);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("round-trips: what is written is read back identically", async () => {
    const folder = join(dir, "roundtrip");
    const written = await writeShards(samples, folderSink(folder), { prefix: "part", samplesPerShard: 10 });
    expect(written).toEqual({
      shards: ["part-000000.tar", "part-000001.tar", "part-000002.tar"],
      samples: 25,
    });
    expect((await readdir(folder)).sort()).toEqual(written.shards); // no temporary files left

    const shards = await resolveShards(folder, { listFolder: listTarFolder });
    const dataset = new WebDataset(shards, { openShards: 1, source: { openFile } });
    const read = await collect(dataset);
    expect(read).toHaveLength(25);
    read.forEach((s, i) => {
      const key = String(i).padStart(9, "0");
      expect(s.key).toBe(key);
      expect(s.shard).toBe(shards[Math.floor(i / 10)]);
      expect(s.index).toBe(i % 10);
      expect(s.image).toEqual(samples[i].image);
      expect(s.imageType).toBe(samples[i].imageType);
      expect(s.webCaption).toBe(samples[i].webCaption);
      expect(s.syntheticCaption).toBe(samples[i].syntheticCaption);
      expect(s.meta).toEqual({
        key,
        caption: samples[i].webCaption,
        synthetic_caption: samples[i].syntheticCaption,
        ...samples[i].meta,
      });
    });
    expect(Object.values(dataset.skipped).every((n) => n === 0)).toBe(true);
  });

  it("writes the same bytes every time, to memory as to files", async () => {
    const a = memorySink();
    const b = memorySink();
    await writeShards(samples, a, { prefix: "p", samplesPerShard: 10 });
    await writeShards(
      (async function* () {
        yield* samples;
      })(),
      b,
      { prefix: "p", samplesPerShard: 10 },
    );
    expect([...a.files.keys()]).toEqual(["p-000000.tar", "p-000001.tar", "p-000002.tar"]);
    expect(b.files).toEqual(a.files);
    const folder = join(dir, "same");
    await writeShards(samples, folderSink(folder), { prefix: "p", samplesPerShard: 10 });
    expect(new Uint8Array(await readFile(join(folder, "p-000001.tar")))).toEqual(a.files.get("p-000001.tar"));
  });

  it.skipIf(!hasTar())(
    "writes tars that GNU/BSD tar reads, entries sorted as webdataset writes them",
    async () => {
      const folder = join(dir, "tar");
      await writeShards(samples.slice(0, 3), folderSink(folder), { prefix: "t", samplesPerShard: 10 });
      const names = execFileSync("tar", ["-tf", join(folder, "t-000000.tar")], { encoding: "utf8" });
      expect(names.trim().split("\n")).toEqual([
        "000000000.json",
        "000000000.png",
        "000000000.txt",
        "000000001.jpg",
        "000000001.json",
        "000000001.txt",
        "000000002.json",
        "000000002.txt",
        "000000002.webp",
      ]);
    },
  );

  it("leaves no file behind when the samples fail mid-shard", async () => {
    const folder = join(dir, "failed");
    const failing = (async function* () {
      yield samples[0];
      yield samples[1];
      throw new Error("source broke");
    })();
    await expect(
      writeShards(failing, folderSink(folder), { prefix: "f", samplesPerShard: 10 }),
    ).rejects.toThrow("source broke");
    expect(await readdir(folder)).toEqual([]);
  });
});
