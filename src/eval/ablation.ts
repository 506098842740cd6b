// The ablation of TIPS (Table 1 of the paper) at small scale: which training signals give which
// skills. Each row is a training recipe; `tips ablate` trains every row with the same budget and
// seeds, evaluates the frozen result with evaluate() on the CLS token(s) the row trained, and
// prints the table made here, with a verdict on each direction the paper reports.
import { DEFAULT_LOSS, type LossWeights } from "../tips/loss";
import type { TeacherKind } from "../tips/model";
import type { CaptionRecipe } from "../train/trainer";
import type { ClsToken, EvalResult, EvalTokens } from "./evaluate";

export interface AblationRow {
  id: string;
  label: string;
  /** The loss terms switched on (weight 1); every other term is off. */
  terms: (keyof LossWeights)[];
  /** How the two captions train the CLS tokens (see CaptionRecipe). */
  captions: CaptionRecipe;
  teacher: TeacherKind;
  /** iBOT++ (TIPSv2): the MIM term over every patch. */
  mimAll: boolean;
}

const BASE = { captions: "dual", teacher: "full", mimAll: false } as const;

export const ABLATION_ROWS: AblationRow[] = [
  { id: "A", label: "CLIP, web captions", terms: ["web"], ...BASE },
  { id: "B1", label: "CLIP, synthetic captions only", terms: ["syn"], ...BASE },
  { id: "B2", label: "dual CLS: web + synthetic", terms: ["web", "syn"], ...BASE },
  {
    id: "B3",
    label: "one CLS, web or synthetic caption sampled per image",
    terms: ["web"],
    ...BASE,
    captions: "sample",
  },
  {
    id: "B4",
    label: "one CLS, multi-text: both captions positives",
    terms: ["web", "syn"],
    ...BASE,
    captions: "multi",
  },
  { id: "C1", label: "web + self-distillation", terms: ["web", "dino"], ...BASE },
  { id: "C2", label: "web + self-distillation + MIM", terms: ["web", "dino", "mim"], ...BASE },
  {
    id: "D",
    label: "TIPS: dual CLS + self-distillation + MIM",
    terms: ["web", "syn", "dino", "mim"],
    ...BASE,
  },
  {
    id: "E",
    label: "TIPSv2 options: D + MIM on all patches + head-only EMA",
    terms: ["web", "syn", "dino", "mim"],
    ...BASE,
    teacher: "heads",
    mimAll: true,
  },
  {
    id: "F1",
    label: "D + SPARC (fine-grained token-patch contrast)",
    terms: ["web", "syn", "dino", "mim", "sparc"],
    ...BASE,
  },
  {
    id: "F2",
    label: "D + RILS (masked patches predict sentence similarities)",
    terms: ["web", "syn", "dino", "mim", "rils"],
    ...BASE,
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

/**
 * The CLS each metric reads for a row: the token its web captions trained, else the one its
 * synthetic captions trained (the synthetic-only row is scored on CLS#2 throughout); each
 * caption's retrieval on the token that caption trained, else on the row's trained token. A
 * token that no CLIP term trained is read by no metric: without one, zero-shot and retrieval are
 * left out, and kNN and depth read CLS#1 only if self-distillation trained it.
 */
export function rowTokens(row: AblationRow): EvalTokens {
  const on = (term: keyof LossWeights) => row.terms.includes(term);
  const web: ClsToken | null = on("web") ? "cls1" : null;
  const synthetic: ClsToken | null = on("syn") ? (row.captions === "dual" ? "cls2" : "cls1") : null;
  const clip = web ?? synthetic;
  return {
    image: clip ?? (on("dino") ? "cls1" : null),
    zeroShot: clip,
    web: web ?? clip,
    synthetic: synthetic ?? clip,
  };
}

export interface AblationMetric {
  name: string;
  /** Higher is better (false for errors such as RMSE). */
  higher: boolean;
  /** Null: the metric was left out (its token was not trained). */
  value: (r: EvalResult) => number | null;
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
  /**
   * Per metric (ABLATION_METRICS order): mean and sample standard deviation over the seeds; null
   * where the metric was left out.
   */
  mean: (number | null)[];
  sd: (number | null)[];
}

export function summarize(rows: AblationRow[], results: RowResult[]): RowSummary[] {
  return rows.map((row) => {
    const mine = results.filter((r) => r.row === row.id);
    const stats = ABLATION_METRICS.map((m) => {
      const values = mine.map((r) => m.value(r.result));
      if (!values.length || values.some((x) => x === null)) return [null, null];
      const v = values as number[];
      const mean = v.reduce((a, x) => a + x, 0) / Math.max(v.length, 1);
      const variance = v.length > 1 ? v.reduce((a, x) => a + (x - mean) ** 2, 0) / (v.length - 1) : 0;
      return [mean, Math.sqrt(variance)];
    });
    return { row, seeds: mine.map((r) => r.seed), mean: stats.map((s) => s[0]), sd: stats.map((s) => s[1]) };
  });
}

/**
 * A Markdown table: one line per row, each metric as mean ± sd over seeds (sd only with several
 * seeds), "-" where left out, the best mean of each column in bold.
 */
export function formatAblationTable(summaries: RowSummary[]): string {
  const best = ABLATION_METRICS.map((m, j) => {
    const means = summaries.map((s) => s.mean[j]).filter((v) => v !== null);
    return m.higher ? Math.max(...means) : Math.min(...means);
  });
  const header = [
    "row",
    "recipe",
    "seeds",
    ...ABLATION_METRICS.map((m) => `${m.name} ${m.higher ? "↑" : "↓"}`),
  ];
  const lines = summaries.map((s) => {
    const cells = s.mean.map((mean, j) => {
      const sd = s.sd[j];
      if (mean === null || sd === null) return "-";
      const text = s.seeds.length > 1 ? `${value(j, mean)} ± ${value(j, sd)}` : value(j, mean);
      return mean === best[j] ? `**${text}**` : text;
    });
    return [s.row.id, s.row.label, s.seeds.join(",") || "-", ...cells];
  });
  return markdown([header, ...lines]);
}

function value(metric: number, v: number): string {
  return v.toFixed(ABLATION_METRICS[metric].name === "depth RMSE" ? 4 : 3);
}

function markdown([header, ...lines]: string[][]): string {
  return [header, header.map(() => "---"), ...lines].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

/** A direction Table 1 of TIPS reports: row `to` scores better than row `from` on a metric. */
export interface Table1Claim {
  from: string;
  to: string;
  metric: string;
  /** The paper's difference (ViT-B/14), as it reports it. */
  paper: string;
}

export const TABLE1_CLAIMS: Table1Claim[] = [
  { from: "A", to: "B1", metric: "seg mIoU", paper: "+10.1 mIoU" },
  { from: "A", to: "B1", metric: "depth RMSE", paper: "-0.076" },
  { from: "B1", to: "A", metric: "kNN top-1", paper: "+6.9 (synthetic only loses 6.9)" },
  { from: "C1", to: "C2", metric: "seg mIoU", paper: "+5.6 mIoU" },
  { from: "C1", to: "C2", metric: "depth RMSE", paper: "-0.078" },
  { from: "A", to: "D", metric: "seg mIoU", paper: "+14.6 mIoU" },
  { from: "A", to: "D", metric: "depth RMSE", paper: "-0.142" },
  { from: "A", to: "D", metric: "web I→T", paper: "+10.1 R@1" },
  { from: "A", to: "D", metric: "web T→I", paper: "+14.4 R@1" },
];

export type Verdict = "reproduced" | "reversed" | "within noise" | "needs 2+ seeds" | "not measured";

export interface ClaimCheck {
  claim: Table1Claim;
  /** Mean of `to` minus mean of `from` (null when either is missing). */
  diff: number | null;
  /** sqrt(sd_from² + sd_to²): the spread a difference must exceed to count. */
  noise: number | null;
  verdict: Verdict;
}

/**
 * Each claim against the summaries: within noise when |diff| <= sqrt(sd_from² + sd_to²) (the
 * sample sds over seeds), else reproduced when the difference has the paper's sign, reversed when
 * not. Rows with fewer than 2 seeds have no noise estimate, so no verdict.
 */
export function checkClaims(summaries: RowSummary[], claims = TABLE1_CLAIMS): ClaimCheck[] {
  return claims.map((claim) => {
    const j = ABLATION_METRICS.findIndex((m) => m.name === claim.metric);
    if (j < 0) throw new Error(`checkClaims: no metric "${claim.metric}"`);
    const from = summaries.find((s) => s.row.id === claim.from);
    const to = summaries.find((s) => s.row.id === claim.to);
    const [mf, mt, sf, st] = [from?.mean[j], to?.mean[j], from?.sd[j], to?.sd[j]];
    if (mf == null || mt == null || sf == null || st == null)
      return { claim, diff: null, noise: null, verdict: "not measured" };
    const diff = mt - mf;
    const noise = Math.hypot(sf, st);
    const better = ABLATION_METRICS[j].higher ? diff > 0 : diff < 0;
    let verdict: Verdict;
    if (Math.min(from?.seeds.length ?? 0, to?.seeds.length ?? 0) < 2) verdict = "needs 2+ seeds";
    else if (Math.abs(diff) <= noise) verdict = "within noise";
    else verdict = better ? "reproduced" : "reversed";
    return { claim, diff, noise, verdict };
  });
}

/** The claims' verdicts as a Markdown table. */
export function formatClaims(checks: ClaimCheck[]): string {
  const signed = (j: number, v: number) => `${v >= 0 ? "+" : ""}${value(j, v)}`;
  const lines = checks.map(({ claim, diff, noise, verdict }) => {
    const j = ABLATION_METRICS.findIndex((m) => m.name === claim.metric);
    return [
      `${claim.from} → ${claim.to}`,
      claim.metric,
      claim.paper,
      diff === null ? "-" : signed(j, diff),
      noise === null ? "-" : value(j, noise),
      verdict,
    ];
  });
  return markdown([["rows", "metric", "paper", "here (to − from)", "noise", "verdict"], ...lines]);
}
