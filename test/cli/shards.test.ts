// `tips shards` as a user runs it: shards from the built-in datasets and from a folder with a
// caption table, read back with the WebDataset reader sample for sample; mistakes explained;
// nothing half-written left behind.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeImage } from "../../src/data/decode-node";
import type { ImageType } from "../../src/data/image";
import { OPENMOJI_LICENSE, OpenMoji, openMojiSamples } from "../../src/data/openmoji/dataset";
import { loadOpenMojiRecords, nodeOpenMojiRenderer } from "../../src/data/openmoji/load-node";
import { renderScene } from "../../src/data/scenes/scene";
import { emptySkipCounts } from "../../src/data/skips";
import { WebDataset } from "../../src/data/webdataset/reader";
import type { Sample } from "../../src/data/webdataset/sample";
import { resolveShards } from "../../src/data/webdataset/shards";
import { openFile } from "../../src/data/webdataset/source-node";
import { startTips } from "../helpers/cli";

/** `tips shards <args>` started. */
const tips = (args: string[]) => startTips(["shards", ...args]);

/** Every sample of the shards a printed pattern names, in order; fails on any skip. */
async function readBack(pattern: string): Promise<{ shards: string[]; samples: Sample[] }> {
  const shards = await resolveShards(pattern);
  const dataset = new WebDataset(shards, { openShards: 1, source: { openFile } });
  const samples: Sample[] = [];
  for await (const s of dataset) samples.push(s);
  expect(Object.entries(dataset.skipped).filter(([, n]) => n > 0)).toEqual([]);
  return { shards, samples };
}

async function image(seed: number, type: ImageType | "gif", w = 6, h = 4): Promise<Uint8Array> {
  const pixels = new Uint8Array(w * h * 3).map((_, i) => (seed * 53 + i * 7) % 256);
  const s = sharp(pixels, { raw: { width: w, height: h, channels: 3 } });
  const encoded =
    type === "png"
      ? s.png()
      : type === "jpeg"
        ? s.jpeg()
        : type === "webp"
          ? s.webp({ lossless: true })
          : s.gif();
  return new Uint8Array(await encoded.toBuffer());
}

/** CSV field with quotes doubled. */
const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;

describe("tips shards", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tips-shards-"));
    execFileSync(process.execPath, ["bin/tips.mjs", "--help"]); // bundle the CLI once, up front
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("writes scenes that read back as the very scenes, pixel for pixel", async () => {
    const out = join(dir, "scenes");
    const args = ["--from", "scenes", "--split", "heldout", "--count", "7", "--start", "3", "--size", "24"];
    const r = await tips([...args, "--seed", "2", "--samples-per-shard", "3", "--out", out]).done;
    expect(r.code, r.stderr).toBe(0);
    const pattern = join(out, "scenes-heldout-{000000..000002}.tar");
    expect(r.stdout.trim()).toBe(pattern);
    expect(r.stderr).toContain("wrote 7 sample(s) of scenes heldout [3, 10) in 3 shard(s)");
    expect((await readdir(out)).sort()).toEqual([0, 1, 2].map((i) => `scenes-heldout-00000${i}.tar`));

    const { shards, samples } = await readBack(r.stdout.trim());
    expect(shards).toHaveLength(3);
    expect(samples).toHaveLength(7);
    for (const [i, s] of samples.entries()) {
      const scene = renderScene(3 + i, { size: 24, split: "heldout", seed: 2 });
      expect(s.key).toBe(String(i).padStart(9, "0"));
      expect(s.imageType).toBe("png");
      expect(s.webCaption).toBe(scene.webCaption);
      expect(s.syntheticCaption).toBe(scene.syntheticCaption);
      expect(s.meta).toMatchObject({ source: "scenes", split: "heldout", seed: 2, index: 3 + i, width: 24 });
      const decoded = await decodeImage(s.image, emptySkipCounts());
      expect(decoded!.data).toEqual(scene.image); // lossless, alpha 255
    }

    // The same command writes the same bytes; an existing shard is not overwritten unasked.
    const again = await tips([...args, "--seed", "2", "--samples-per-shard", "3", "--out", out]).done;
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/scenes-heldout-000000\.tar already exists .* pass --overwrite/);
    const copy = join(dir, "scenes-copy");
    await tips([...args, "--seed", "2", "--samples-per-shard", "3", "--out", copy]).done;
    for (const name of await readdir(out))
      expect(await readFile(join(copy, name))).toEqual(await readFile(join(out, name)));

    // --overwrite replaces them and removes the shards of the earlier run that are now too many.
    const fewer = await tips([...args, "--samples-per-shard", "5", "--out", out, "--overwrite"]).done;
    expect(fewer.code, fewer.stderr).toBe(0);
    expect(fewer.stdout.trim()).toBe(join(out, "scenes-heldout-{000000..000001}.tar"));
    expect(fewer.stderr).toContain("removed 1 older shard(s)");
    expect((await readdir(out)).sort()).toEqual(["scenes-heldout-000000.tar", "scenes-heldout-000001.tar"]);
    expect((await readBack(fewer.stdout.trim())).samples[0].meta).toMatchObject({ seed: 0, index: 3 });
  }, 120_000);

  it("writes openmoji with its captions, labels and licence", async () => {
    const out = join(dir, "openmoji");
    const r = await tips(["--from", "openmoji", "--split", "heldout", "--count", "5", "--out", out]).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(join(out, "openmoji-heldout-000000.tar"));
    const { samples } = await readBack(r.stdout.trim());
    const dataset = new OpenMoji(await loadOpenMojiRecords());
    const expected = dataset.split("heldout").slice(0, 5);
    let i = 0;
    for await (const e of openMojiSamples(expected, nodeOpenMojiRenderer())) {
      const s = samples[i++];
      expect(s.image).toEqual(e.image);
      expect(s.webCaption).toBe(e.webCaption);
      expect(s.syntheticCaption).toBe(e.syntheticCaption);
      expect(s.meta).toMatchObject({
        source: "openmoji",
        split: "heldout",
        hexcode: e.key,
        group: e.group,
        subgroup: e.subgroup,
        label_group: dataset.label(e, "group"),
        label_subgroup: dataset.label(e, "subgroup"),
        license: OPENMOJI_LICENSE,
      });
    }
    expect(i).toBe(5);
  }, 120_000);

  it("writes a folder of images with a CSV of captions, skipping and reporting bad rows", async () => {
    const images = join(dir, "photos");
    await mkdir(join(images, "sub"), { recursive: true });
    const files: [string, Uint8Array][] = [
      ["a.png", await image(1, "png")],
      ["sub/b.jpg", await image(2, "jpeg")],
      ["c.webp", await image(3, "webp")],
      ["d.gif", await image(4, "gif")],
      ["broken.png", new TextEncoder().encode("\x89PNG but not really")],
      ["e.png", await image(5, "png", 3, 7)],
    ];
    for (const [name, bytes] of files) await writeFile(join(images, name), bytes);
    const rows = [
      ["filename", "caption", "synthetic_caption", "url"],
      ["a.png", 'a "quoted" caption, with a comma', "synthetic a", "https://example.com/a"],
      ["sub/b.jpg", "line one\nline two – café ☕", "", "https://example.com/b"],
      ["missing.png", "gone", "synthetic", "https://example.com/m"],
      ["c.webp", "  padded  ", "synthetic c", "https://example.com/c"],
      ["broken.png", "broken", "", "https://example.com/x"],
      ["d.gif", "a gif", "synthetic d", "https://example.com/d"],
      ["e.png", "", "no web caption", "https://example.com/e"],
    ];
    const csv = join(dir, "captions.csv");
    await writeFile(csv, `${rows.map((r) => r.map(quote).join(",")).join("\r\n")}\r\n`);
    const out = join(dir, "photos-out");
    const r = await tips(["--from", images, "--captions", csv, "--out", out, "--keep-cols", "url"]).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(join(out, "photos-000000.tar"));
    expect(r.stderr).toContain("skipped 3 row(s): missing_image 1, missing_caption 1, bad_image 1");
    expect(r.stderr).toContain("missing_image: captions.csv line 5: missing.png (ENOENT)");
    expect(r.stderr).toContain("bad_image: captions.csv line 7: broken.png");
    expect(r.stderr).toContain("missing_caption: captions.csv line 9: e.png");
    expect(await readdir(out)).toEqual(["photos-000000.tar"]);

    const { samples } = await readBack(r.stdout.trim());
    const byName = new Map(files);
    expect(samples.map((s) => s.meta.path)).toEqual(["a.png", "sub/b.jpg", "c.webp", "d.gif"]);
    expect(samples.map((s) => s.imageType)).toEqual(["png", "jpeg", "webp", "png"]);
    for (const s of samples.slice(0, 3)) expect(s.image).toEqual(byName.get(s.meta.path as string));
    expect(samples.map((s) => s.webCaption)).toEqual([
      'a "quoted" caption, with a comma',
      "line one\nline two – café ☕",
      "padded",
      "a gif",
    ]);
    expect(samples.map((s) => s.syntheticCaption)).toEqual([
      "synthetic a",
      null,
      "synthetic c",
      "synthetic d",
    ]);
    expect(samples[0].meta).toMatchObject({ url: "https://example.com/a", width: 6, height: 4 });
    // The GIF became a PNG with the same pixels.
    const gif = await decodeImage(samples[3].image, emptySkipCounts());
    const original = await sharp(byName.get("d.gif")).ensureAlpha().raw().toBuffer();
    expect(Buffer.from(gif!.data)).toEqual(original);
  }, 120_000);

  it("reads JSONL with named columns", async () => {
    const images = join(dir, "jsonl-images");
    await mkdir(images, { recursive: true });
    const lines: string[] = [];
    for (let i = 0; i < 5; i++) {
      await writeFile(join(images, `${i}.png`), await image(10 + i, "png"));
      lines.push(JSON.stringify({ image: `${i}.png`, alt: `alt ${i}`, recap: `recaption ${i}`, id: i }));
    }
    const table = join(dir, "table.jsonl");
    await writeFile(table, `${lines.join("\n")}\n`);
    const out = join(dir, "jsonl-out");
    const r = await tips([
      ...["--from", images, "--captions", table, "--out", out, "--prefix", "web"],
      ...[
        "--path-col",
        "image",
        "--caption-col",
        "alt",
        "--synthetic-col",
        "recap",
        "--samples-per-shard",
        "2",
      ],
    ]).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(join(out, "web-{000000..000002}.tar"));
    const { samples } = await readBack(r.stdout.trim());
    for (const [i, s] of samples.entries()) {
      expect(s.image).toEqual(await readFile(join(images, `${i}.png`)).then((b) => new Uint8Array(b)));
      expect([s.webCaption, s.syntheticCaption]).toEqual([`alt ${i}`, `recaption ${i}`]);
    }
  }, 120_000);

  it("explains bad input and leaves no shard behind", async () => {
    const images = join(dir, "bad-input");
    await mkdir(images, { recursive: true });
    await writeFile(join(images, "x.png"), await image(1, "png"));
    const csv = async (name: string, text: string) => {
      await writeFile(join(dir, name), text);
      return join(dir, name);
    };
    const out = join(dir, "bad-out");
    const cases: [string[], RegExp][] = [
      [[], /name the source with --from scenes, --from openmoji or --from FOLDER/],
      [["--from", join(dir, "nowhere"), "--captions", "x.csv"], /no such folder: .*nowhere/],
      [["--from", images], /needs --captions FILE/],
      [["--from", images, "--captions", join(dir, "none.csv")], /cannot read --captions .*none\.csv/],
      [["--from", images, "--captions", await csv("t.txt", "x")], /expected a \.csv, \.tsv or \.jsonl file/],
      [
        ["--from", images, "--captions", await csv("cols.csv", "file,text\nx.png,hi\n")],
        /has no column "filename" \(it has "file", "text"\); name it with --path-col/,
      ],
      [
        ["--from", images, "--captions", await csv("cap.csv", "filename,text\nx.png,hi\n")],
        /has no column "caption" .*--caption-col/,
      ],
      [
        [
          "--from",
          images,
          "--captions",
          await csv("syn.csv", "filename,caption\nx.png,hi\n"),
          "--synthetic-col",
          "s",
        ],
        /has no column "s" .*--synthetic-col/,
      ],
      [["--from", images, "--captions", await csv("empty.csv", "filename,caption\n")], /has no rows/],
      [
        ["--from", images, "--captions", await csv("quote.csv", 'filename,caption\nx.png,"open\n')],
        /line 2: a quoted field is not closed/,
      ],
      [
        ["--from", images, "--captions", await csv("skipped.csv", "filename,caption\nnone.png,a\nx.png,\n")],
        /no samples to write: all 2 rows were skipped/,
      ],
      [["--from", "scenes", "--split", "test"], /--split takes train or heldout/],
      [
        ["--from", "scenes", "--split", "heldout", "--count", "1001"],
        /--count takes an integer from 1 to 1000/,
      ],
      [
        ["--from", "scenes", "--captions-col", "x"],
        /^tips shards: unknown option --captions-col; see tips shards --help$/m,
      ],
      [["--from", "openmoji", "--path-col", "x"], /--path-col applies to a folder with --captions/],
      [
        ["--from", images, "--captions", "x.csv", "--split", "train"],
        /--split applies to the built-in datasets/,
      ],
      [["--from", "scenes", "--prefix", "a/b"], /--prefix takes letters/],
    ];
    for (const [args, message] of cases) {
      const r = await tips([...args, "--out", out]).done;
      expect(r.code, `${args.join(" ")}\n${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe("");
    }
    expect(await readdir(out).catch(() => [])).toEqual([]);
  }, 120_000);

  it("keeps only whole shards when interrupted with Ctrl-C", async () => {
    const out = join(dir, "interrupted");
    const run = tips([
      "--from",
      "scenes",
      "--count",
      "100000",
      "--size",
      "16",
      "--samples-per-shard",
      "20",
      "--out",
      out,
    ]);
    // Interrupt once two shards are complete.
    for (;;) {
      const names = await readdir(out).catch(() => [] as string[]);
      if (names.filter((n) => n.endsWith(".tar")).length >= 2) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    run.child.kill("SIGINT");
    const r = await run.done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/interrupted: kept (\d+) complete shard\(s\) \((\d+) samples\)/);
    const names = (await readdir(out)).sort();
    expect(names.every((n) => /^scenes-train-\d{6}\.tar$/.test(n))).toBe(true); // no temporary file
    expect(r.stderr).toContain(`kept ${names.length} complete shard(s) (${names.length * 20} samples)`);
    const { samples } = await readBack(r.stdout.trim());
    expect(samples).toHaveLength(names.length * 20);
    expect(samples.at(-1)!.meta.index).toBe(names.length * 20 - 1);
  }, 120_000);
});
