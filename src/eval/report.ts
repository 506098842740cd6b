// The results of evaluate() as a text table: each number next to what a featureless guess gets.
import type { ClsToken, EvalResult } from "./evaluate";

/** A number to `digits` places; "-" for a metric left out (no trained token). */
function fixed(v: number | null, digits = 3): string {
  if (v === null) return "-";
  return Number.isFinite(v) ? v.toFixed(digits) : String(v);
}

/** "CLS#1", "CLS#2", or "no trained CLS". */
export function tokenName(token: ClsToken | null): string {
  return token ? `CLS#${token.slice(3)}` : "no trained CLS";
}

/** Each metric as [name, value, its baselines and limits], for the CLI's table and the app's. */
export function evalTableRows(r: EvalResult): [string, string, string][] {
  const s = r.setup;
  const depthInput = r.depth.globalToken ? `patch + ${tokenName(r.depth.globalToken)}` : "patch only";
  return [
    [
      "segmentation mIoU (linear probe, pixels)",
      fixed(r.segmentation.mIoU),
      `${fixed(r.segmentation.allBackground)} all background, ${fixed(r.segmentation.chance)} random; ${fixed(r.segmentation.oracle)} true patch labels`,
    ],
    [
      `depth RMSE (linear probe on ${depthInput}, pixels; lower is better)`,
      fixed(r.depth.rmse, 4),
      `${fixed(r.depth.meanBaseline, 4)} training mean; floor ${fixed(r.depth.oracle, 4)} true patch means`,
    ],
    [
      `kNN top-1, ${tokenName(r.knn.token)} (k=${s.k}, ${s.vote})`,
      fixed(r.knn.top1),
      `${fixed(r.knn.majority)} majority, ${fixed(r.knn.chance)} random`,
    ],
    [
      `zero-shot top-1, ${tokenName(r.zeroShot.token)} vs "a photo of a {shape}"`,
      fixed(r.zeroShot.top1),
      `${fixed(r.zeroShot.majority)} majority, ${fixed(r.zeroShot.chance)} random`,
    ],
    [
      `web captions, ${tokenName(r.retrieval.web.token)}: image->text R@1`,
      fixed(r.retrieval.web.imageToText),
      `${fixed(r.retrieval.chance)} random`,
    ],
    [
      `web captions, ${tokenName(r.retrieval.web.token)}: text->image R@1`,
      fixed(r.retrieval.web.textToImage),
      `${fixed(r.retrieval.chance)} random`,
    ],
    [
      `synthetic captions, ${tokenName(r.retrieval.synthetic.token)}: image->text R@1`,
      fixed(r.retrieval.synthetic.imageToText),
      `${fixed(r.retrieval.chance)} random`,
    ],
    [
      `synthetic captions, ${tokenName(r.retrieval.synthetic.token)}: text->image R@1`,
      fixed(r.retrieval.synthetic.textToImage),
      `${fixed(r.retrieval.chance)} random`,
    ],
  ];
}

export function formatEvalTable(r: EvalResult): string {
  const s = r.setup;
  const rows: [string, string, string][] = [
    ["metric", "value", "baselines (featureless guesses) and limits"],
    ...evalTableRows(r),
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  const lines = rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
  lines.splice(1, 0, "-".repeat(lines[0].length + 30));
  const perClass = r.segmentation.classes
    .map(
      (name, i) =>
        `${name} ${r.segmentation.perClass[i] === null ? "-" : fixed(r.segmentation.perClass[i] as number, 2)}`,
    )
    .join(", ");
  return [
    `scenes (data seed ${s.dataSeed}): ${s.train} train / ${s.test} held-out images at ${s.size}x${s.size}, ${s.grid[0]}x${s.grid[1]} patches of ${s.patch}`,
    `probes: ${s.probe.steps} AdamW steps, lr ${s.probe.lr}, batch ${s.probe.batch}, seed ${s.seed}`,
    "",
    ...lines,
    "",
    `IoU per class: ${perClass}`,
    `probe training loss: segmentation ${fixed(r.segmentation.trainLoss, 4)} (cross-entropy), depth ${fixed(r.depth.trainLoss, 4)} (MSE, standardised)`,
    `${r.seconds.toFixed(1)} s`,
  ].join("\n");
}
