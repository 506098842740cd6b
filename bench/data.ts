// `npm run bench -- data`: how many decoded samples per second the data side delivers in Node
// (sharp as the native decoder), through the same BatchPrefetcher that feeds the trainer: the
// built-in scenes (rendered), openmoji (SVG rasterised, then decoded) and shards as `tips shards`
// writes them (tar parsing, shuffle buffer, decoding). CPU only; no GPU is used.
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_DATA_WORKERS, nodeData } from "../src/cli/data";
import { BatchPrefetcher } from "../src/data/batches";
import { type DataSpec, openExampleSource } from "../src/data/datasets";
import { loadSharp } from "../src/data/decode-node";
import { renderScene } from "../src/data/scenes/scene";
import { folderSink } from "../src/data/webdataset/sink-node";
import { type SampleToWrite, writeShards } from "../src/data/webdataset/write";
import type { Row } from "./table";

export interface DataRow {
  name: string;
  /** Samples decoded in the timed part. */
  samples: number;
  seconds: number;
}

const BATCH = 64;

/** Samples per second over at least `minSeconds` (after one warm-up batch). */
async function measure(
  spec: DataSpec,
  size: number,
  workers: number,
  minSeconds: number,
  maxBatches: number,
): Promise<DataRow> {
  const source = await openExampleSource(spec, { size, seed: 0 }, nodeData(workers));
  const prefetcher = new BatchPrefetcher(source, BATCH, 3);
  await prefetcher.next(); // warm-up: loading, first shard reads, filling the shuffle buffer
  const start = performance.now();
  let samples = 0;
  let batches = 0;
  while (batches === 0 || (batches < maxBatches && (performance.now() - start) / 1000 < minSeconds)) {
    const b = await prefetcher.next();
    if (!b) throw new Error(`${JSON.stringify(spec)} ran out of data`);
    samples += b.keys.length;
    batches++;
  }
  const seconds = (performance.now() - start) / 1000;
  await source.close();
  return { name: "", samples, seconds };
}

async function* sceneSamples(
  count: number,
  size: number,
  type: "png" | "jpeg",
): AsyncGenerator<SampleToWrite> {
  const sharp = await loadSharp(); // on first use, so the GPU groups run from a bundle without it
  for (let i = 0; i < count; i++) {
    const s = renderScene(i, { size, split: "train" });
    const raw = sharp(s.image, { raw: { width: s.size, height: s.size, channels: 4 } });
    const image = new Uint8Array(await (type === "png" ? raw.png() : raw.jpeg({ quality: 90 })).toBuffer());
    yield { image, imageType: type, webCaption: s.webCaption, syntheticCaption: s.syntheticCaption };
  }
}

/**
 * The data rows; `scenesOnly` keeps to the built-in scenes, which need nothing beyond the bundle
 * (on the GPU machine, where sharp and the openmoji package are not installed); `workers` draw
 * the scenes of the pooled rows.
 */
export async function benchData(
  small: boolean,
  scenesOnly = false,
  workers = DEFAULT_DATA_WORKERS,
): Promise<DataRow[]> {
  const minSeconds = small ? 0 : 3;
  const maxBatches = small ? 1 : 1000;
  const count = small ? 2 * BATCH : 1024;
  const rows: DataRow[] = [];
  const row = async (name: string, spec: DataSpec, size: number, threads = 0) => {
    rows.push({ ...(await measure(spec, size, threads, minSeconds, maxBatches)), name });
  };
  // Scenes as tips train draws them (by default DEFAULT_DATA_WORKERS worker threads), and on one thread.
  for (const size of [96, 224]) {
    await row(
      `scenes ${size} px (rendered, ${workers} worker${workers > 1 ? "s" : ""})`,
      { kind: "scenes" },
      size,
      workers,
    );
    await row(`scenes ${size} px (rendered, no worker)`, { kind: "scenes" }, size);
  }
  if (scenesOnly) return rows;
  const dir = await mkdtemp(join(tmpdir(), "tips-bench-data-"));
  try {
    await row("openmoji 96 px (SVG rasterised + PNG decoded)", { kind: "openmoji" }, 96);
    for (const [size, type] of [
      [96, "png"],
      [224, "png"],
      [224, "jpeg"],
    ] as const) {
      const prefix = `scenes-${size}-${type}`;
      await writeShards(sceneSamples(count, size, type), folderSink(dir), {
        prefix,
        samplesPerShard: count / 4,
      });
      const spec = { kind: "shards", spec: join(dir, `${prefix}-{000000..000003}.tar`) } as const;
      await row(`shards ${type.toUpperCase()} ${size} px (tar + shuffle + decode)`, spec, 0);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}

/** What a training step consumes: images/s of a `step` row measured on a GPU (its bench --json). */
export interface Consumer {
  name: string;
  device: string;
  imagesPerSecond: number;
}

/** The `step` rows of a `npm run bench -- --json FILE` result, as consumers of data. */
export function consumersOf(result: {
  device: { description?: string; vendor?: string } | null;
  rows: Row[];
}): Consumer[] {
  if (!Array.isArray(result?.rows)) throw new Error("not a result of npm run bench -- --json FILE");
  const device = result.device?.description || result.device?.vendor || "an unnamed GPU";
  const steps = result.rows.filter((r) => r.group === "step" && r.images);
  if (!steps.length) throw new Error("it has no training-step rows: run the step group on the GPU");
  return steps.map((r) => ({ name: r.name, device, imagesPerSecond: ((r.images ?? 0) * 1000) / r.ms }));
}

export function formatDataTable(rows: DataRow[], consumers: Consumer[] = []): string {
  const header = [
    "case",
    "samples",
    "seconds",
    "samples/s",
    "ms/sample",
    ...consumers.map((_, i) => `/ step ${i + 1}`),
  ];
  const lines = rows.map((r) => [
    r.name,
    String(r.samples),
    r.seconds.toFixed(2),
    (r.samples / r.seconds).toFixed(1),
    ((1000 * r.seconds) / r.samples).toFixed(2),
    ...consumers.map((c) => `${(r.samples / r.seconds / c.imagesPerSecond).toFixed(2)}x`),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
  const notes = consumers.length
    ? [
        "",
        ...consumers.map(
          (c, i) =>
            `step ${i + 1}: ${c.name} on ${c.device} consumes ${c.imagesPerSecond.toFixed(1)} images/s.`,
        ),
        "At 1x or above this data row keeps up with that step in one process; below, the step waits for data.",
      ]
    : [
        "\nThe GPU side (images/s a training step consumes) is measured on a GPU: pass its bench --json",
        "result with --steps-from FILE to see whether this data side keeps up.",
      ];
  return [
    `\n### data (Node, one process, ${cpus().length} CPU cores: ${cpus()[0]?.model ?? "unknown CPU"}; batches of ${BATCH})\n`,
    fmt(header),
    `| ${widths.map((w, i) => (i === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)).join(" | ")} |`,
    ...lines.map(fmt),
    ...notes,
  ].join("\n");
}
