// A run's curves (MetricHistory, column-wise) as CSV: one row per step, one column per series,
// an empty cell for a gap (a term that was off, a rate not yet measured). The Train page offers
// it as a download so that curves can be plotted or compared outside the app.
import type { MetricHistory } from "./catalogue";

/** CSV text with a header row; "step" first, then the other columns in the history's order. */
export function historyCsv(history: MetricHistory): string {
  const columns = ["step", ...Object.keys(history).filter((k) => k !== "step")];
  const rows = history.step?.length ?? 0;
  for (const c of columns) {
    const n = history[c]?.length ?? 0;
    if (n !== rows) throw new Error(`history column "${c}" has ${n} values, but there are ${rows} steps`);
  }
  const lines = [columns.join(",")];
  for (let r = 0; r < rows; r++) {
    lines.push(columns.map((c) => cell(history[c][r])).join(","));
  }
  return `${lines.join("\n")}\n`;
}

function cell(v: number | null): string {
  return v === null || !Number.isFinite(v) ? "" : String(v);
}
