// The ablation of TIPS (Table 1 of the paper) at small scale: which training signals give which
// skills. Each row is a training recipe; `tips ablate` trains every row with the same budget and
// seeds, evaluates the frozen result with evaluate(), and prints the table made here.
import { DEFAULT_LOSS, type LossWeights } from "../tips/loss";
import type { TeacherKind } from "../tips/model";
import type { EvalResult } from "./evaluate";

export interface AblationRow {
  id: string;
  label: string;
  /** The loss terms switched on (weight 1); every other term is off. */
  terms: (keyof LossWeights)[];
  teacher: TeacherKind;
  /** iBOT++ (TIPSv2): the MIM term over every patch. */
  mimAll: boolean;
}

export const ABLATION_ROWS: AblationRow[] = [
  { id: "A", label: "CLIP, web captions", terms: ["web"], teacher: "full", mimAll: false },
  { id: "B1", label: "CLIP, synthetic captions only", terms: ["syn"], teacher: "full", mimAll: false },
  { id: "B2", label: "dual CLS: web + synthetic", terms: ["web", "syn"], teacher: "full", mimAll: false },
  { id: "C1", label: "web + self-distillation", terms: ["web", "dino"], teacher: "full", mimAll: false },
  {
    id: "C2",
    label: "web + self-distillation + MIM",
    terms: ["web", "dino", "mim"],
    teacher: "full",
    mimAll: false,
  },
  {
    id: "D",
    label: "TIPS: dual CLS + self-distillation + MIM",
    terms: ["web", "syn", "dino", "mim"],
    teacher: "full",
    mimAll: false,
  },
  {
    id: "E",
    label: "TIPSv2 options: D + MIM on all patches + head-only EMA",
    terms: ["web", "syn", "dino", "mim"],
    teacher: "heads",
    mimAll: true,
  },
  {
    id: "F1",
    label: "D + SPARC (fine-grained token-patch contrast)",
    terms: ["web", "syn", "dino", "mim", "sparc"],
    teacher: "full",
    mimAll: false,
  },
  {
    id: "F2",
    label: "D + RILS (masked patches predict sentence similarities)",
    terms: ["web", "syn", "dino", "mim", "rils"],
    teacher: "full",
    mimAll: false,
  },
];

/** The loss weights of a row: 1 for its terms, 0 for the others. */
export function rowWeights(row: AblationRow): LossWeights {
  const weights = { ...DEFAULT_LOSS.weights };
  for (const term of Object.keys(weights) as (keyof LossWeights)[])
    weights[term] = row.terms.includes(term) ? 1 : 0;
  return weights;
}

/** Picks rows by id ("A,D,E"), saying which ids exist when one does not. */
export function selectRows(spec: string | undefined): AblationRow[] {
  if (!spec) return ABLATION_ROWS;
  const ids = spec.split(",").map((s) => s.trim());
  return ids.map((id) => {
    const row = ABLATION_ROWS.find((r) => r.id.toLowerCase() === id.toLowerCase());
    if (!row)
      throw new Error(`unknown ablation row "${id}"; rows: ${ABLATION_ROWS.map((r) => r.id).join(", ")}`);
    return row;
  });
}

export interface AblationMetric {
  name: string;
  /** Higher is better (false for errors such as RMSE). */
  higher: boolean;
  value: (r: EvalResult) => number;
}

export const ABLATION_METRICS: AblationMetric[] = [
  { name: "seg mIoU", higher: true, value: (r) => r.segmentation.mIoU },
  { name: "depth RMSE", higher: false, value: (r) => r.depth.rmse },
  { name: "kNN top-1", higher: true, value: (r) => r.knn.top1 },
  { name: "0-shot top-1", higher: true, value: (r) => r.zeroShot.top1 },
  { name: "web I→T", higher: true, value: (r) => r.retrieval.web.imageToText },
  { name: "web T→I", higher: true, value: (r) => r.retrieval.web.textToImage },
  { name: "syn I→T", higher: true, value: (r) => r.retrieval.synthetic.imageToText },
  { name: "syn T→I", higher: true, value: (r) => r.retrieval.synthetic.textToImage },
];

export interface RowResult {
  row: string;
  seed: number;
  result: EvalResult;
}

export interface RowSummary {
  row: AblationRow;
  seeds: number[];
  /** Per metric (ABLATION_METRICS order): mean and sample standard deviation over the seeds. */
  mean: number[];
  sd: number[];
}

export function summarize(rows: AblationRow[], results: RowResult[]): RowSummary[] {
  return rows.map((row) => {
    const mine = results.filter((r) => r.row === row.id);
    const stats = ABLATION_METRICS.map((m) => {
      const v = mine.map((r) => m.value(r.result));
      const mean = v.reduce((a, x) => a + x, 0) / Math.max(v.length, 1);
      const variance = v.length > 1 ? v.reduce((a, x) => a + (x - mean) ** 2, 0) / (v.length - 1) : 0;
      return [mean, Math.sqrt(variance)];
    });
    return { row, seeds: mine.map((r) => r.seed), mean: stats.map((s) => s[0]), sd: stats.map((s) => s[1]) };
  });
}

/**
 * A Markdown table: one line per row, each metric as mean ± sd over seeds (sd only with several
 * seeds), the best mean of each column in bold.
 */
export function formatAblationTable(summaries: RowSummary[]): string {
  const best = ABLATION_METRICS.map((m, j) => {
    const means = summaries.filter((s) => s.seeds.length).map((s) => s.mean[j]);
    return m.higher ? Math.max(...means) : Math.min(...means);
  });
  const digits = (j: number) => (ABLATION_METRICS[j].name === "depth RMSE" ? 4 : 3);
  const header = [
    "row",
    "recipe",
    "seeds",
    ...ABLATION_METRICS.map((m) => `${m.name} ${m.higher ? "↑" : "↓"}`),
  ];
  const lines = summaries.map((s) => {
    const cells = s.mean.map((mean, j) => {
      if (!s.seeds.length) return "-";
      const text =
        s.seeds.length > 1
          ? `${mean.toFixed(digits(j))} ± ${s.sd[j].toFixed(digits(j))}`
          : mean.toFixed(digits(j));
      return mean === best[j] ? `**${text}**` : text;
    });
    return [s.row.id, s.row.label, s.seeds.join(",") || "-", ...cells];
  });
  return [header, header.map(() => "---"), ...lines].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}
