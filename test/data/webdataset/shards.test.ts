import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expandBraces, resolveShards } from "../../../src/data/webdataset/shards";
import { listTarFolder } from "../../../src/data/webdataset/source-node";

describe("expandBraces", () => {
  it("expands numeric ranges keeping zero padding", () => {
    const shards = expandBraces("shards-{000000..000099}.tar");
    expect(shards).toHaveLength(100);
    expect(shards[0]).toBe("shards-000000.tar");
    expect(shards[99]).toBe("shards-000099.tar");
    expect(expandBraces("s{8..11}")).toEqual(["s8", "s9", "s10", "s11"]);
    expect(expandBraces("s{08..11}")).toEqual(["s08", "s09", "s10", "s11"]);
    expect(expandBraces("s{3..1}")).toEqual(["s3", "s2", "s1"]);
    expect(expandBraces("s{7..7}")).toEqual(["s7"]);
  });

  it("expands alternatives, several groups and nesting", () => {
    expect(expandBraces("{train,val}-{0..1}.tar")).toEqual([
      "train-0.tar",
      "train-1.tar",
      "val-0.tar",
      "val-1.tar",
    ]);
    expect(expandBraces("a{b,c{1..2}}d")).toEqual(["abd", "ac1d", "ac2d"]);
  });

  it("leaves text without a brace group alone", () => {
    expect(expandBraces("plain.tar")).toEqual(["plain.tar"]);
    expect(expandBraces("odd{x}.tar")).toEqual(["odd{x}.tar"]);
    expect(expandBraces("open{1..2.tar")).toEqual(["open{1..2.tar"]);
  });
});

describe("resolveShards", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "shards-"));
    await mkdir(join(dir, "data"));
    await mkdir(join(dir, "empty"));
    for (const name of ["b.tar", "a.tar", "notes.txt", "c.tar"]) await writeFile(join(dir, "data", name), "");
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("splits comma lists (outside braces) and expands each item", async () => {
    expect(await resolveShards("x-{0..1}.tar, https://h/y-{a,b}.tar,z.tar")).toEqual([
      "x-0.tar",
      "x-1.tar",
      "https://h/y-a.tar",
      "https://h/y-b.tar",
      "z.tar",
    ]);
    expect(await resolveShards(["http://h/a.tar", "b-{1..2}.tar"])).toEqual([
      "http://h/a.tar",
      "b-1.tar",
      "b-2.tar",
    ]);
  });

  it("lists the .tar files of a folder, sorted (Node)", async () => {
    const shards = await resolveShards(join(dir, "data"), { listFolder: listTarFolder });
    expect(shards).toEqual(["a.tar", "b.tar", "c.tar"].map((n) => join(dir, "data", n)));
    expect(await listTarFolder(join(dir, "data", "a.tar"))).toBeNull();
    expect(await listTarFolder(join(dir, "missing"))).toBeNull();
  });

  it("rejects an empty list, saying what was given and what is expected", async () => {
    await expect(resolveShards("")).rejects.toThrow(/no shards in "": expected a brace pattern/);
    await expect(resolveShards(" , ")).rejects.toThrow(/no shards in " , "/);
    await expect(resolveShards([])).rejects.toThrow(/no shards in \[\]/);
    await expect(resolveShards(join(dir, "empty"), { listFolder: listTarFolder })).rejects.toThrow(
      /folder holding \.tar files/,
    );
  });
});
