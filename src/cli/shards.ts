// `tips shards`: writes img2dataset-compatible WebDataset shards (key.png|jpg|webp, key.txt with
// the web caption, key.json with the synthetic caption under `synthetic_caption`) from a built-in
// dataset (scenes, openmoji) or from a folder of images with a CSV/TSV/JSONL table of captions.
// Shards are stored atomically (data/webdataset/sink-node.ts); rows whose image is missing or does not decode, or
// whose caption is empty, are skipped, counted and reported at the end.
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { basename, isAbsolute, join, resolve } from "node:path";
import cliProgress from "cli-progress";
import { decodeImage, loadSharp } from "../data/decode-node";
import { DEFAULT_MAX_PIXELS, type ImageType } from "../data/image";
import {
  OPENMOJI_LICENSE,
  OPENMOJI_SIZE,
  type OpenMojiSplit,
  openMojiSamples,
} from "../data/openmoji/dataset";
import { loadOpenMoji, nodeOpenMojiRenderer } from "../data/openmoji/load-node";
import { renderScene, type SceneSplit, scenesSplit } from "../data/scenes/scene";
import { emptySkipCounts, type SkipCounts, type SkipReason } from "../data/skips";
import {
  type CaptionTable,
  parseTable,
  TableError,
  type TableRow,
  tableFormat,
} from "../data/webdataset/caption-table";
import { folderSink } from "../data/webdataset/sink-node";
import { type SampleToWrite, shardFileName, writeShards } from "../data/webdataset/write";
import { CliError, intOption, type Parsed, parseCommand, stringOption } from "./args";
import { readInput } from "./files";

const HELP = `usage: tips shards --from SOURCE [options]

Writes WebDataset shards as img2dataset does: per sample key.png|jpg|webp (the image), key.txt
(the web caption) and key.json ({key, caption, synthetic_caption, ...metadata}). Prints the
shards as a brace pattern that tips train --data and the WebDataset reader accept.

Sources:
  --from scenes           the built-in procedural scenes (PNG)
  --from openmoji         the built-in OpenMoji emoji (PNG; licence CC BY-SA 4.0, credit OpenMoji)
  --from FOLDER --captions FILE
                          the images in FOLDER with the captions of a table; with --captions,
                          --from is always a folder (write ./scenes for a folder named scenes)

Output:
  --out FOLDER            where the shards go (default: shards)
  --prefix NAME           shard names NAME-000000.tar, ... (default: scenes-train,
                          openmoji-heldout, ... for the built-in datasets; the folder's name)
  --samples-per-shard N   samples per shard (default 10000, as img2dataset)
  --overwrite             replace the NAME-*.tar shards already in --out (refused otherwise)

Built-in datasets:
  --split train|heldout   which split (default train); the held-out splits are fixed
  --count N               number of samples (scenes: default 10000, at most the split: train
                          1000000, heldout 1000; openmoji: default the whole split)
  --start N               scenes: first index of the split (default 0)
  --size N                image side in pixels (scenes: default 224; openmoji: default 72)
  --seed N                scenes: the dataset seed; openmoji: the web captions' noise (default 0)
  --no-skin-tones         openmoji: leave out the skin-tone variants

Folder and captions table (column names as img2dataset's --url_col and --caption_col):
  --captions FILE         .csv or .tsv with a header row, or .jsonl with one object per line
  --path-col NAME         the image's path, relative to FOLDER (default: filename)
  --caption-col NAME      the web caption (default: caption)
  --synthetic-col NAME    the synthetic caption (default: synthetic_caption, if the table has it)
  --keep-cols A,B,...     more columns to copy into key.json
  Images are PNG, JPEG or WebP (kept byte for byte) or another format sharp reads (GIF, TIFF,
  AVIF, SVG; converted to PNG). Rows whose image is missing or does not decode, or whose
  caption is empty, are skipped and reported.`;

const OPTIONS = {
  from: { type: "string" },
  out: { type: "string" },
  prefix: { type: "string" },
  "samples-per-shard": { type: "string" },
  overwrite: { type: "boolean" },
  split: { type: "string" },
  count: { type: "string" },
  start: { type: "string" },
  size: { type: "string" },
  seed: { type: "string" },
  "no-skin-tones": { type: "boolean" },
  captions: { type: "string" },
  "path-col": { type: "string" },
  "caption-col": { type: "string" },
  "synthetic-col": { type: "string" },
  "keep-cols": { type: "string" },
} as const;

/** Options that only some sources take. */
const BUILT_IN_ONLY = ["split", "count", "start", "size", "seed", "no-skin-tones"];
const FOLDER_ONLY = ["path-col", "caption-col", "synthetic-col", "keep-cols"];

/** Images read, decoded and encoded at once. */
const CONCURRENCY = 4;

/** A skipped row, for the report. */
interface Problem {
  reason: SkipReason;
  where: string;
}

/** Where samples come from: how many there will be (for the progress bar) and the samples. */
interface Input {
  description: string;
  prefix: string;
  total: number;
  samples: (stop: () => boolean) => AsyncIterable<SampleToWrite>;
  skipped: SkipCounts;
  problems: Problem[];
}

class Interrupted extends Error {}

export async function shards(argv: string[]): Promise<void> {
  const p = parseCommand(argv, OPTIONS, HELP);
  if (!p) return;
  if (p.positionals.length > 0)
    throw new CliError(`unexpected argument "${p.positionals[0]}"; name the source with --from`);
  const from = stringOption(p, "from");
  if (!from)
    throw new CliError(`name the source with --from scenes, --from openmoji or --from FOLDER\n\n${HELP}`);
  const captions = stringOption(p, "captions");
  const builtIn = !captions && (from === "scenes" || from === "openmoji");
  const misplaced = (builtIn ? FOLDER_ONLY : BUILT_IN_ONLY).find((name) => p.values[name] !== undefined);
  if (misplaced)
    throw new CliError(
      `--${misplaced} applies to ${builtIn ? "a folder with --captions" : "the built-in datasets"}`,
    );

  const input = builtIn
    ? from === "scenes"
      ? scenesInput(p)
      : await openMojiInput(p)
    : await folderInput(p, from, captions);
  const out = stringOption(p, "out") ?? "shards";
  const prefix = stringOption(p, "prefix") ?? input.prefix;
  if (!/^[\w.-]+$/.test(prefix))
    throw new CliError(`--prefix takes letters, digits, "_", "-" and "."; got "${prefix}"`);
  const perShard = intOption(p, "samples-per-shard", 10_000);
  const existing = await existingShards(out, prefix);
  if (existing.length > 0 && p.values.overwrite !== true) {
    throw new CliError(
      `${join(out, existing[0])} already exists (${existing.length} shard(s) named ${prefix}-*.tar): ` +
        "choose another --out or --prefix, or pass --overwrite",
    );
  }

  let stopping = false;
  const onSigint = () => {
    if (stopping) process.exit(130);
    stopping = true;
  };
  process.on("SIGINT", onSigint);
  const tty = process.stderr.isTTY === true;
  const bar = new cliProgress.SingleBar(
    { format: "samples {value}/{total} |{bar}| ETA {eta_formatted}", stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  if (tty) bar.start(input.total, 0);
  let done = 0;
  const counted = async function* () {
    for await (const sample of input.samples(() => stopping)) {
      yield sample;
      done++;
      if (tty) bar.update(done);
    }
    if (stopping) throw new Interrupted();
  };
  let written: string[] = [];
  let interrupted = false;
  try {
    written = (await writeShards(counted(), folderSink(out), { prefix, samplesPerShard: perShard })).shards;
  } catch (error) {
    if (!(error instanceof Interrupted)) throw error;
    interrupted = true;
    written = Array.from({ length: Math.floor(done / perShard) }, (_, i) => shardFileName(prefix, i));
  } finally {
    if (tty) bar.stop();
    process.off("SIGINT", onSigint);
  }

  reportSkips(input);
  if (interrupted) {
    const kept = written.length * perShard;
    console.error(
      `interrupted: kept ${written.length} complete shard(s) (${kept} samples); the shard being written was removed`,
    );
    if (written.length > 0) console.log(shardPattern(out, prefix, written.length));
    process.exitCode = 130;
    return;
  }
  if (written.length === 0) {
    const skips = Object.values(input.skipped).reduce((a, b) => a + b, 0);
    throw new CliError(
      skips > 0
        ? `no samples to write: all ${skips} rows were skipped`
        : `no samples to write: ${input.description} is empty`,
    );
  }
  // Shards of an earlier run beyond this one's are stale: remove them (this run replaced the rest).
  const stale = existing.filter((name) => !written.includes(name));
  await Promise.all(stale.map((name) => rm(join(out, name), { force: true })));
  const samples = done;
  console.error(
    `wrote ${samples} sample(s) of ${input.description} in ${written.length} shard(s) to ${out}` +
      (stale.length > 0 ? ` (removed ${stale.length} older shard(s))` : ""),
  );
  console.log(shardPattern(out, prefix, written.length));
}

/** The shards as one path: a brace pattern when there are several. */
export function shardPattern(out: string, prefix: string, count: number): string {
  const first = shardFileName(prefix, 0);
  if (count === 1) return join(out, first);
  const last = shardFileName(prefix, count - 1);
  const number = (name: string) => name.slice(prefix.length + 1, -".tar".length);
  return join(out, `${prefix}-{${number(first)}..${number(last)}}.tar`);
}

async function existingShards(out: string, prefix: string): Promise<string[]> {
  const info = await stat(out).catch(() => null);
  if (!info) return [];
  if (!info.isDirectory()) throw new CliError(`--out ${out} is a file, not a folder`);
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`^${escaped}-\\d{6}\\.tar$`);
  return (await readdir(out)).filter((name) => pattern.test(name)).sort();
}

function reportSkips(input: Input): void {
  const counts = Object.entries(input.skipped).filter(([, n]) => n > 0);
  if (counts.length === 0) return;
  const total = counts.reduce((a, [, n]) => a + n, 0);
  console.error(`skipped ${total} row(s): ${counts.map(([r, n]) => `${r} ${n}`).join(", ")}`);
  for (const problem of input.problems) console.error(`  ${problem.reason}: ${problem.where}`);
  if (total > input.problems.length) console.error(`  ... and ${total - input.problems.length} more`);
}

function splitOption(p: Parsed): SceneSplit & OpenMojiSplit {
  const split = stringOption(p, "split") ?? "train";
  if (split !== "train" && split !== "heldout")
    throw new CliError(`--split takes train or heldout, got "${split}"`);
  return split;
}

/** `fn` over `items`, `concurrency` at a time, results in order. */
async function* mapOrdered<T, U>(
  items: Iterable<T>,
  concurrency: number,
  fn: (item: T) => Promise<U>,
  stop: () => boolean,
): AsyncGenerator<U> {
  const iterator = items[Symbol.iterator]();
  const pending: Promise<U>[] = [];
  const fill = () => {
    while (pending.length < concurrency && !stop()) {
      const r = iterator.next();
      if (r.done) return;
      const result = fn(r.value);
      result.catch(() => {}); // awaited below, in order
      pending.push(result);
    }
  };
  fill();
  while (pending.length > 0) {
    const result = await pending.shift()!;
    fill();
    yield result;
  }
}

function* range(start: number, count: number): Generator<number> {
  for (let i = start; i < start + count; i++) yield i;
}

function scenesInput(p: Parsed): Input {
  const split = splitOption(p);
  const size = intOption(p, "size", 224, 8, 4096);
  const seed = intOption(p, "seed", 0, 0);
  const available = scenesSplit(split);
  const start = intOption(p, "start", 0, 0, available - 1);
  const count = intOption(p, "count", Math.min(10_000, available - start), 1, available - start);
  const encode = async (index: number): Promise<SampleToWrite> => {
    const scene = renderScene(index, { size, split, seed });
    const sharp = await loadSharp();
    const png = await sharp(scene.image, { raw: { width: size, height: size, channels: 4 } })
      .removeAlpha() // always opaque: RGB decodes to the same RGBA
      .png()
      .toBuffer();
    return {
      image: new Uint8Array(png.buffer, png.byteOffset, png.byteLength),
      imageType: "png",
      webCaption: scene.webCaption,
      syntheticCaption: scene.syntheticCaption,
      meta: { source: "scenes", split, seed, index, width: size, height: size },
    };
  };
  return {
    description: `scenes ${split} [${start}, ${start + count})`,
    prefix: `scenes-${split}`,
    total: count,
    samples: (stop) => mapOrdered(range(start, count), CONCURRENCY, encode, stop),
    skipped: emptySkipCounts(),
    problems: [],
  };
}

async function openMojiInput(p: Parsed): Promise<Input> {
  const split = splitOption(p);
  const size = intOption(p, "size", OPENMOJI_SIZE, 8, 4096);
  const seed = intOption(p, "seed", 0, 0);
  let dataset: Awaited<ReturnType<typeof loadOpenMoji>>;
  let render: ReturnType<typeof nodeOpenMojiRenderer>;
  try {
    dataset = await loadOpenMoji({ seed, skinTones: p.values["no-skin-tones"] !== true });
    render = nodeOpenMojiRenderer();
  } catch (error) {
    throw new CliError(`cannot load OpenMoji: ${(error as Error).message}`);
  }
  const entries = dataset.split(split);
  const count = intOption(p, "count", entries.length, 1, entries.length);
  const samples = async function* (stop: () => boolean): AsyncGenerator<SampleToWrite> {
    for await (const s of openMojiSamples(entries.slice(0, count), render, size, CONCURRENCY)) {
      if (stop()) return;
      yield {
        image: s.image,
        imageType: s.imageType,
        webCaption: s.webCaption,
        syntheticCaption: s.syntheticCaption,
        meta: {
          source: "openmoji",
          split,
          hexcode: s.key,
          emoji: s.emoji,
          annotation: s.annotation,
          tags: s.tags,
          group: s.group,
          subgroup: s.subgroup,
          label_group: dataset.label(s, "group"),
          label_subgroup: dataset.label(s, "subgroup"),
          width: size,
          height: size,
          license: OPENMOJI_LICENSE,
        },
      };
    }
  };
  return {
    description: `openmoji ${split} (${count} emoji, ${size}x${size})`,
    prefix: `openmoji-${split}`,
    total: count,
    samples,
    skipped: emptySkipCounts(),
    problems: [],
  };
}

async function folderInput(p: Parsed, folder: string, captions: string | undefined): Promise<Input> {
  const info = await stat(folder).catch(() => null);
  if (!info) throw new CliError(`no such folder: ${folder} (the built-in datasets are scenes and openmoji)`);
  if (!info.isDirectory()) throw new CliError(`--from ${folder} is not a folder`);
  if (!captions)
    throw new CliError(`--from ${folder} needs --captions FILE (a .csv, .tsv or .jsonl table of captions)`);
  const format = tableFormat(captions);
  if (!format) throw new CliError(`--captions ${captions}: expected a .csv, .tsv or .jsonl file`);
  const bytes = await readInput(captions, "--captions");
  let table: CaptionTable;
  try {
    table = parseTable(new TextDecoder("utf-8", { fatal: true }).decode(bytes), format);
  } catch (error) {
    const why = error instanceof TableError ? error.message : "not valid UTF-8 text";
    throw new CliError(`--captions ${captions}: ${why}`);
  }
  if (table.rows.length === 0) throw new CliError(`--captions ${captions} has no rows`);

  const has = (column: string) => table.columns.includes(column);
  const column = (option: string, fallback: string): string => {
    const name = stringOption(p, option) ?? fallback;
    if (!has(name)) {
      const columns = table.columns.map((c) => `"${c}"`).join(", ");
      throw new CliError(
        `--captions ${captions} has no column "${name}" (it has ${columns}); name it with --${option}`,
      );
    }
    return name;
  };
  const pathCol = column("path-col", "filename");
  const captionCol = column("caption-col", "caption");
  const synthetic = stringOption(p, "synthetic-col");
  const syntheticCol = synthetic
    ? column("synthetic-col", synthetic)
    : has("synthetic_caption")
      ? "synthetic_caption"
      : null;
  const keepCols = (stringOption(p, "keep-cols") ?? "")
    .split(",")
    .map((c) => c.trim())
    .filter((c) => c.length > 0);
  for (const c of keepCols) {
    if (!has(c)) throw new CliError(`--keep-cols: --captions ${captions} has no column "${c}"`);
  }

  const skipped = emptySkipCounts();
  const problems: Problem[] = [];
  const skip = (reason: SkipReason, where: string, counted = false): null => {
    if (!counted) skipped[reason]++;
    if (problems.length < 10) problems.push({ reason, where });
    return null;
  };
  const load = async ({ line, values }: TableRow): Promise<SampleToWrite | null> => {
    const path = values[pathCol]?.trim() ?? "";
    const where = `${basename(captions)} line ${line}: ${path || "(no path)"}`;
    const caption = values[captionCol]?.trim() ?? "";
    if (path.length === 0) return skip("missing_image", where);
    if (/^https?:\/\//i.test(path)) return skip("missing_image", `${where} (URLs are not downloaded)`);
    if (caption.length === 0) return skip("missing_caption", where);
    let file: Uint8Array;
    try {
      file = new Uint8Array(await readFile(isAbsolute(path) ? path : join(folder, path)));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return skip("missing_image", `${where} (${code ?? (error as Error).message})`);
    }
    const image = await checkImage(file, skipped);
    if (typeof image === "string") return skip(image, where, true);
    const meta: Record<string, unknown> = { path, width: image.width, height: image.height };
    for (const c of keepCols) if (values[c] !== undefined) meta[c] = values[c];
    return {
      image: image.bytes,
      imageType: image.type,
      webCaption: caption,
      syntheticCaption: syntheticCol ? values[syntheticCol]?.trim() || null : null,
      meta,
    };
  };
  const samples = async function* (stop: () => boolean): AsyncGenerator<SampleToWrite> {
    for await (const sample of mapOrdered(table.rows, CONCURRENCY, load, stop)) if (sample) yield sample;
  };
  return {
    description: `${folder} with ${basename(captions)} (${table.rows.length} rows)`,
    prefix: basename(resolve(folder)).replace(/[^\w.-]+/g, "_") || "shards",
    total: table.rows.length,
    samples,
    skipped,
    problems,
  };
}

/** The image type from the file's first bytes. */
function sniffType(b: Uint8Array): ImageType | null {
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "png";
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  const ascii = (at: number) => String.fromCharCode(...b.subarray(at, at + 4));
  if (b.length >= 12 && ascii(0) === "RIFF" && ascii(8) === "WEBP") return "webp";
  return null;
}

/**
 * The bytes to store and the size, or why the image is skipped (counted in `skipped`): PNG, JPEG
 * and WebP must decode and are kept as they are; other formats are converted to PNG.
 */
async function checkImage(
  file: Uint8Array,
  skipped: SkipCounts,
): Promise<{ bytes: Uint8Array; type: ImageType; width: number; height: number } | SkipReason> {
  const type = sniffType(file);
  if (type) {
    const before = skipped.image_too_large;
    const decoded = await decodeImage(file, skipped);
    if (!decoded) return skipped.image_too_large > before ? "image_too_large" : "bad_image";
    return { bytes: file, type, width: decoded.width, height: decoded.height };
  }
  const sharp = await loadSharp();
  try {
    const { data, info } = await sharp(file, { limitInputPixels: DEFAULT_MAX_PIXELS, autoOrient: true })
      .png()
      .toBuffer({ resolveWithObject: true });
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return { bytes, type: "png", width: info.width, height: info.height };
  } catch (error) {
    const tooLarge = /pixel limit/i.test((error as Error).message);
    skipped[tooLarge ? "image_too_large" : "bad_image"]++;
    return tooLarge ? "image_too_large" : "bad_image";
  }
}
