import type { OpCase } from "../check";
import { sinkhornLogTargets } from "../sinkhorn";

/** float64 Sinkhorn-Knopp as DINOv2 writes it (Q = exp(t / tau), columns then rows), as log Q. */
export function refSinkhorn(rows: number, k: number, tau: number, iterations: number) {
  return ([t]: Float64Array[]) => {
    let max = Number.NEGATIVE_INFINITY;
    for (const v of t) max = Math.max(max, v / tau);
    const q = t.map((v) => Math.exp(v / tau - max));
    for (let it = 0; it < iterations; it++) {
      for (let c = 0; c < k; c++) {
        let s = 0;
        for (let r = 0; r < rows; r++) s += q[r * k + c];
        for (let r = 0; r < rows; r++) q[r * k + c] /= s;
      }
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let c = 0; c < k; c++) s += q[r * k + c];
        for (let c = 0; c < k; c++) q[r * k + c] /= s;
      }
    }
    return q.map(Math.log);
  };
}

// Row workgroups of 32 threads up to K = 512, 256 past 2048 (rows.ts); the column pass has one
// thread per prototype walking every row. The last two are training scale along one axis: more
// rows than a workgroup has threads, and the official heads' K = 65,536 (16 row tiles).
const cases: [number, number][] = [
  [1, 1],
  [3, 5],
  [7, 33],
  [51, 67],
  [5, 2049],
  [1100, 7],
  [3, 65536],
];

export const sinkhornCases: OpCase[] = cases.map(([rows, k]) => ({
  name: `sinkhorn-knopp targets [${rows}, ${k}]`,
  // tau 0.25 on unit-normal logits: targets far from one-hot, so log q is well inside f32 range.
  inputs: [{ shape: [rows, k], grad: false }],
  run: ([t]) => sinkhornLogTargets(t, 0.25),
  reference: refSinkhorn(rows, k, 0.25, 3),
  atol: 1e-4,
  rtol: 1e-4,
  noGrad: true,
}));
