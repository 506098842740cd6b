import type { OpCase } from "../check";
import { layerNorm } from "../layernorm";

/** float64 LayerNorm over rows of `cols`: (x - mean) / sqrt(var + eps) * weight + bias. */
export function refLayerNorm(cols: number, eps: number) {
  return ([x, weight, bias]: Float64Array[]) => {
    const y = new Float64Array(x.length);
    for (let r = 0; r < x.length / cols; r++) {
      const row = x.subarray(r * cols, (r + 1) * cols);
      const mean = row.reduce((a, v) => a + v, 0) / cols;
      const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / cols;
      const rstd = 1 / Math.sqrt(variance + eps);
      for (let c = 0; c < cols; c++) y[r * cols + c] = (row[c] - mean) * rstd * weight[c] + bias[c];
    }
    return y;
  };
}

// LayerNorm over D = 1 gives bias alone (x - mean = 0), so D starts at 3. [1030, 3] gives the
// backward's workgroups 3 rows each (the last one 1); D = 4096 is the largest row.
const cases: [number[], number][] = [
  [[1, 3], 1e-6],
  [[7, 5], 1e-6],
  [[67, 129], 1e-6],
  [[7, 384], 1e-6],
  [[1, 1030], 1e-5],
  [[2, 3, 5], 1e-5],
  [[1030, 3], 1e-6],
  [[2, 4096], 1e-6],
];

export const layerNormCases: OpCase[] = cases.map(([shape, eps]) => {
  const cols = shape[shape.length - 1];
  return {
    name: `layerNorm ${shape} eps ${eps}`,
    inputs: [{ shape }, { shape: [cols] }, { shape: [cols] }],
    run: ([x, weight, bias]) => layerNorm(x, weight, bias, eps),
    reference: refLayerNorm(cols, eps),
  };
});
