// Benchmark rows and their table: ours and, when a PyTorch reference file is given, PyTorch's
// figure for the same row name and the ratio ours/PyTorch in throughput (above 1: we are faster).

export interface Row {
  group: string;
  name: string;
  /** Milliseconds per call. */
  ms: number;
  /** Floating-point operations per call. */
  flops: number;
}

/** The PyTorch script's output: milliseconds per call by group and row name. */
export type Reference = Record<string, Record<string, number>>;

const tflops = (flops: number, ms: number) => flops / ms / 1e9;

export function formatTables(rows: Row[], reference: Reference | null): string {
  const out: string[] = [];
  for (const group of [...new Set(rows.map((r) => r.group))]) {
    const header = ["case", "ours ms", "ours TFLOP/s", "PyTorch ms", "PyTorch TFLOP/s", "ours/PyTorch"];
    const lines = rows
      .filter((r) => r.group === group)
      .map((r) => {
        const ref = reference?.[group]?.[r.name];
        return [
          r.name,
          r.ms.toFixed(3),
          tflops(r.flops, r.ms).toFixed(2),
          ref === undefined ? "-" : ref.toFixed(3),
          ref === undefined ? "-" : tflops(r.flops, ref).toFixed(2),
          ref === undefined ? "-" : `${(ref / r.ms).toFixed(2)}x`,
        ];
      });
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
    const fmt = (cells: string[]) =>
      `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
    out.push(
      `\n### ${group}\n`,
      fmt(header),
      `| ${widths.map((w, i) => (i === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)).join(" | ")} |`,
      ...lines.map(fmt),
    );
  }
  return out.join("\n");
}
