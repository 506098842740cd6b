import type { OpCase } from "../check";
import { mul, scale } from "../elementwise";
import { l2Normalize, normalizedLinear } from "../normalize";
import { refMatmul } from "./matmul";

/** float64 x / max(||x||, eps) over rows of `cols`, each row first multiplied by rowScale(r). */
export function refL2Normalize(cols: number, eps: number, rowScale: (r: number) => number = () => 1) {
  return (x: Float64Array) => {
    const y = new Float64Array(x.length);
    for (let r = 0; r < x.length / cols; r++) {
      const row = Array.from(x.subarray(r * cols, (r + 1) * cols), (v) => v * rowScale(r));
      const norm = Math.sqrt(row.reduce((a, v) => a + v * v, 0));
      for (let c = 0; c < cols; c++) y[r * cols + c] = row[c] / Math.max(norm, eps);
    }
    return y;
  };
}

// Rows of 1 to 5000 values (4097 and 5000 > 4096 walk the row in two tiles). The workgroup has
// 32 threads up to 512 values, 64 up to 1024, 128 up to 2048, else 256 (rows.ts).
const shapes = [
  [1, 1],
  [3, 5],
  [4, 33],
  [67, 129],
  [2, 3, 384],
  [3, 512],
  [3, 513],
  [2, 1030],
  [2, 2048],
  [2, 2049],
  [2, 4096],
  [2, 4097],
  [2, 5000],
];
/** Row scale of the mixed case: 1e-4 where the mask is 0 (norm about 2e-4, under eps), else 1. */
const TINY = 1e-4;

export const normalizeCases: OpCase[] = [
  ...shapes.map(
    (shape): OpCase => ({
      name: `l2Normalize ${shape}`,
      inputs: [{ shape }],
      run: ([x]) => l2Normalize(x),
      reference: ([x]) => refL2Normalize(shape[shape.length - 1], 1e-3)(x),
    }),
  ),
  {
    name: "l2Normalize 3,5 of tiny rows (norm < eps)",
    inputs: [{ shape: [3, 5] }],
    run: ([x]) => l2Normalize(scale(x, TINY)),
    reference: ([x]) => refL2Normalize(5, 1e-3, () => TINY)(x),
  },
  {
    name: "l2Normalize 8,5 of tiny and ordinary rows",
    inputs: [{ shape: [8, 5] }, { shape: [8, 1], values: { int: 2 }, grad: false }],
    run: ([x, mask]) => l2Normalize(mul(x, scale(mask, 1 - TINY, TINY))),
    reference: ([x, mask]) => refL2Normalize(5, 1e-3, (r) => (mask[r] ? 1 : TINY))(x),
  },
  {
    name: "l2Normalize 3,129 eps 0.5 (every row clipped)",
    inputs: [{ shape: [3, 129] }],
    run: ([x]) => l2Normalize(scale(x, 0.01), 0.5),
    reference: ([x]) => refL2Normalize(129, 0.5, () => 0.01)(x),
  },
  // DINO's last layer: x [..., K] times prototypes [N, K] of unit rows, the normalised weight
  // made by the forward and again by the backward; a 3-D x (rows of every batch in dW), and a
  // 2-D one over a 128-wide N with a K not a multiple of 4.
  ...(
    [
      [[2, 7, 13], 19],
      [[9, 6], 130],
    ] as [number[], number][]
  ).map(([xShape, n]): OpCase => {
    const k = xShape[xShape.length - 1];
    const rows = xShape.slice(0, -1).reduce((a, b) => a * b, 1);
    const product = refMatmul({ m: rows, k, n, transB: true });
    return {
      name: `normalizedLinear x [${xShape}] w [${n},${k}]`,
      inputs: [{ shape: xShape }, { shape: [n, k] }],
      run: ([x, w]) => normalizedLinear(x, w, 1e-12),
      reference: ([x, w]) => product([x, refL2Normalize(k, 1e-12)(w)]),
      atol: 1e-4,
      rtol: 1e-4,
    };
  }),
];
