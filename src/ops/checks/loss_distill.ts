import type { OpCase } from "../check";
import { softCrossEntropy } from "../loss_distill";

/** float64 per-row cross-entropy between softmax((t - c)/tau_t) and log softmax(s/tau_s). */
export function refSoftCrossEntropy(
  rows: number,
  teacherRows: number,
  k: number,
  tauS: number,
  tauT: number,
) {
  return ([s, t, c]: Float64Array[]) => {
    const out = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const tb = (r % teacherRows) * k;
      const tl = Array.from({ length: k }, (_, j) => (t[tb + j] - c[j]) / tauT);
      const sl = Array.from({ length: k }, (_, j) => s[r * k + j] / tauS);
      // reduce, not Math.max(...row): a browser worker's stack cannot spread K = 65,536 arguments
      const mt = tl.reduce((a, v) => Math.max(a, v), -Infinity);
      const ms = sl.reduce((a, v) => Math.max(a, v), -Infinity);
      const zt = tl.reduce((a, v) => a + Math.exp(v - mt), 0);
      const lseS = ms + Math.log(sl.reduce((a, v) => a + Math.exp(v - ms), 0));
      let ce = 0;
      for (let j = 0; j < k; j++) ce -= (Math.exp(tl[j] - mt) / zt) * (sl[j] - lseS);
      out[r] = ce;
    }
    return out;
  };
}

// The forward's workgroup has 32 threads up to K = 512, 64 up to 1024, 128 up to 2048, else 256
// (rows.ts).
const cases: [number, number, number][] = [
  [1, 1, 1],
  [3, 3, 5],
  [4, 2, 33],
  [12, 2, 67],
  [4, 4, 513],
  [6, 3, 1030],
  [4, 2, 2049],
  [2, 1, 65536], // the official heads' K: the row in 16 tiles
];

export const distillCases: OpCase[] = cases.map(([rows, teacherRows, k]) => ({
  name: `soft cross-entropy ${rows} student rows, ${teacherRows} teacher rows, K=${k}`,
  inputs: [{ shape: [rows, k] }, { shape: [teacherRows, k], grad: false }, { shape: [k], grad: false }],
  run: ([s, t, c]) => softCrossEntropy(s, t, c, { student: 0.1, teacher: 0.04 }),
  reference: refSoftCrossEntropy(rows, teacherRows, k, 0.1, 0.04),
  atol: 1e-4,
  rtol: 1e-4,
}));
