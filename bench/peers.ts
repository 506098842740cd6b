// `npm run bench -- peers [--small] [--repeats N] [--json FILE]`: our kernels beside jax-js and
// tfjs-backend-webgpu on the same adapter in one process (bench/peers-libraries.ts says how each
// gets its device). Every contender's result is first checked against float64; then the three
// run interleaved (ours, jax-js, tfjs, ours, ...), each sample one call drained to the end of its
// GPU work, and a row shows the medians and ours/peer (above 1: ours is faster). A contender whose
// check fails keeps a null time and the row says why.
import type { Gpu } from "../src/gpu/gpu";
import { PRESETS, type VisionConfig } from "../src/tips/config";
import { startPeers } from "./peers-libraries";
import { vitWorkload } from "./peers-vit";
import {
  attentionWorkload,
  type Contender,
  matmulWorkload,
  mlpWorkload,
  type PeerShapes,
  type Workload,
} from "./peers-workloads";

/**
 * tips-s14's image encoder at 224 px (a 16 x 16 grid, so the position grid is 16: no resize);
 * linear weights at std 1 / sqrt(width) rather than 0.02, so that attention logits have unit
 * scale and the softmax is not nearly uniform (a wrong attention would pass unnoticed).
 */
const VIT_S14_224: VisionConfig = {
  ...PRESETS["tips-s14"].vision,
  imageSize: 224,
  posGrid: 16,
  initStd: 1 / Math.sqrt(384),
};

/** A tiny ViT of the same layout: 28 px, patch 14 (4 patches), width 32, 2 heads, 2 blocks. */
const VIT_SMALL: VisionConfig = {
  ...VIT_S14_224,
  imageSize: 28,
  posGrid: 2,
  width: 32,
  depth: 2,
  heads: 2,
  mlpHidden: 64,
  initStd: 1 / Math.sqrt(32),
};

export const PEER_SHAPES: Record<"full" | "small", PeerShapes> = {
  full: {
    matmul: [
      { name: "matmul-1024", m: 1024, k: 1024, n: 1024 },
      // One ViT-B/16 image (197 tokens): the qkv projection, the MLP's down projection, and the
      // weight gradient of its up projection (K = tokens).
      { name: "matmul-vitb-qkv", m: 197, k: 768, n: 2304 },
      { name: "matmul-vitb-mlp-down", m: 197, k: 3072, n: 768 },
      { name: "matmul-vitb-dw-mlp-up", m: 768, k: 197, n: 3072, transA: true },
      // The vit-s14-forward row's products at their shapes (258 tokens): the MLP's up and down.
      { name: "matmul-vits-mlp-up", m: 258, k: 384, n: 1536 },
      { name: "matmul-vits-mlp-down", m: 258, k: 1536, n: 384 },
    ],
    // ViT-S/14 at 224 px: 256 patches and the class token, 6 heads of 64.
    attention: { name: "attention-vits", batch: 1, heads: 6, seq: 257, dim: 64 },
    mlp: { name: "mlp-step", tokens: 512, width: 384, hidden: 1536 },
    vit: { name: "vit-s14-forward", vision: VIT_S14_224 },
  },
  small: {
    matmul: [
      { name: "matmul-odd", m: 33, k: 65, n: 17 },
      { name: "matmul-odd-dw", m: 18, k: 35, n: 9, transA: true },
    ],
    attention: { name: "attention-small", batch: 2, heads: 2, seq: 19, dim: 8 },
    mlp: { name: "mlp-step", tokens: 20, width: 12, hidden: 24 },
    vit: { name: "vit-small-forward", vision: VIT_SMALL },
  },
};

export const LIBRARIES = ["ours", "jaxjs", "tfjs"] as const;
export type Library = (typeof LIBRARIES)[number];

export interface PeerRow {
  workload: string;
  oursMs: number | null;
  jaxjsMs: number | null;
  tfjsMs: number | null;
}

export interface PeerResult {
  rows: PeerRow[];
  /** What each row runs. */
  notes: Record<string, string>;
  /** Checks that failed, "workload library: why". */
  failures: string[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Checks each contender, then times the ones that passed, interleaved, `repeats` samples each. */
async function measure(w: Workload, repeats: number, failures: string[]): Promise<PeerRow> {
  const timed: [Library, Contender][] = [];
  for (const library of LIBRARIES) {
    const wrong = await w[library].check(); // also the warm-up: pipelines compiled here
    if (wrong) failures.push(`${w.name} ${library}: ${wrong}`);
    else timed.push([library, w[library]]);
  }
  const samples: Record<Library, number[]> = { ours: [], jaxjs: [], tfjs: [] };
  for (let r = 0; r < repeats; r++) {
    for (const [library, c] of timed) {
      const start = performance.now();
      c.run();
      await c.sync();
      samples[library].push(performance.now() - start);
    }
  }
  const ms = (library: Library) => (samples[library].length ? median(samples[library]) : null);
  return { workload: w.name, oursMs: ms("ours"), jaxjsMs: ms("jaxjs"), tfjsMs: ms("tfjs") };
}

/** The rows' names, in the order they run. */
export const peerWorkloadNames = (shapes: PeerShapes) => [
  ...shapes.matmul.map((c) => c.name),
  shapes.attention.name,
  shapes.mlp.name,
  shapes.vit.name,
];

/** Runs every row, or those named in `only`. */
export async function benchPeers(
  gpu: Gpu,
  dawn: GPU,
  shapes: PeerShapes,
  repeats: number,
  onRow: (row: PeerRow) => void = () => {},
  only: string[] | null = null,
): Promise<PeerResult> {
  const peers = await startPeers(gpu, dawn);
  const makers: [string, () => Workload | Promise<Workload>][] = [
    ...shapes.matmul.map((c): [string, () => Workload] => [c.name, () => matmulWorkload(gpu, peers, c)]),
    [shapes.attention.name, () => attentionWorkload(gpu, peers, shapes.attention)],
    [shapes.mlp.name, () => mlpWorkload(gpu, peers, shapes.mlp)],
    [shapes.vit.name, () => vitWorkload(gpu, peers, shapes.vit)],
  ];
  const result: PeerResult = { rows: [], notes: {}, failures: [] };
  for (const [name, make] of makers) {
    if (only && !only.includes(name)) continue;
    const w = await make();
    result.notes[w.name] = w.what;
    result.rows.push(await measure(w, repeats, result.failures));
    for (const library of LIBRARIES) w[library].dispose();
    onRow(result.rows[result.rows.length - 1]);
  }
  return result;
}

const cell = (ms: number | null) => (ms === null ? "-" : ms.toFixed(1));
const ratio = (ours: number | null, peer: number | null) =>
  ours === null || peer === null ? "-" : `${(peer / ours).toFixed(2)}x`;

export function formatPeers(result: PeerResult): string {
  const header = ["workload", "ours ms", "jax-js ms", "tfjs ms", "ours/jax-js", "ours/tfjs"];
  const lines = result.rows.map((r) => [
    r.workload,
    cell(r.oursMs),
    cell(r.jaxjsMs),
    cell(r.tfjsMs),
    ratio(r.oursMs, r.jaxjsMs),
    ratio(r.oursMs, r.tfjsMs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
  const rule = `| ${widths.map((w, i) => (i === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)).join(" | ")} |`;
  const notes = Object.entries(result.notes).map(([name, what]) => `- ${name}: ${what}`);
  const failed = result.failures.map((f) => `- wrong result, not timed: ${f}`);
  return [
    fmt(header),
    rule,
    ...lines.map(fmt),
    "",
    "medians of interleaved runs; ours/peer above 1: ours is faster",
    ...notes,
    ...failed,
  ].join("\n");
}
