// Benchmark rows and their table: ours and, when a PyTorch reference file is given, PyTorch's
// figure for the same row name and the ratio ours/PyTorch in throughput (above 1: we are faster).

export interface Row {
  group: string;
  name: string;
  /** Milliseconds per call. */
  ms: number;
  /** Floating-point operations per call. */
  flops: number;
  /** Images per call, for whole training steps: the table then shows images/s, not TFLOP/s. */
  images?: number;
  /** Peak GPU memory of the run, where measured (the reference's group "<group> memory"). */
  memoryMiB?: number;
  /** Milliseconds of CPU time per call spent recording the GPU's work (training steps). */
  recordMs?: number;
}

/** A row that did not count: it could not run (a buffer beyond the adapter's limits), or its result was wrong. */
export interface Failure {
  group: string;
  name: string;
  error: string;
}

/** The PyTorch script's output: milliseconds per call by group and row name. */
export type Reference = Record<string, Record<string, number>>;

const tflops = (flops: number, ms: number) => flops / ms / 1e9;
const perSecond = (items: number, ms: number) => (items * 1000) / ms;

export function formatTables(rows: Row[], reference: Reference | null): string {
  const out: string[] = [];
  for (const group of [...new Set(rows.map((r) => r.group))]) {
    const mine = rows.filter((r) => r.group === group);
    const images = mine.every((r) => r.images !== undefined);
    const unit = images ? "images/s" : "TFLOP/s";
    const rate = (r: Row, ms: number) =>
      images ? perSecond(r.images ?? 0, ms).toFixed(1) : tflops(r.flops, ms).toFixed(2);
    const memory = mine.some((r) => r.memoryMiB !== undefined);
    const recording = mine.some((r) => r.recordMs !== undefined);
    const header = ["case", "ours ms", `ours ${unit}`, "PyTorch ms", `PyTorch ${unit}`, "ours/PyTorch"];
    if (memory) header.push("ours MiB", "PyTorch MiB");
    if (recording) header.push("ours recording ms");
    const lines = mine.map((r) => {
      const ref = reference?.[group]?.[r.name];
      const cells = [
        r.name,
        r.ms.toFixed(3),
        rate(r, r.ms),
        ref === undefined ? "-" : ref.toFixed(3),
        ref === undefined ? "-" : rate(r, ref),
        ref === undefined ? "-" : `${(ref / r.ms).toFixed(2)}x`,
      ];
      if (memory) {
        const refMiB = reference?.[`${group} memory`]?.[r.name];
        cells.push(r.memoryMiB?.toFixed(0) ?? "-", refMiB === undefined ? "-" : refMiB.toFixed(0));
      }
      if (recording) cells.push(r.recordMs?.toFixed(3) ?? "-");
      return cells;
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
