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

// LayerNorm over D = 1 gives bias alone (x - mean = 0), so D starts at 3. [1030, 3] and
// [1030, 33] give the backward's 344 workgroups 3 rows each (the last one 1); D = 4096 is the
// largest row. The finish adds the workgroups' partials in 1 lane (up to 64 workgroups), 2
// ([67, 129]), 4 ([200, 67]) or 8 ([1030, D]). A row's workgroup has 32 threads up to D = 512,
// 64 up to 1024, 128 up to 2048, else 256 (rows.ts): D = 512, 1024, 2048 fill every thread's 16
// registers; 513, 1030 and 2049 start the next size with 9 values on the first threads only.
const cases: [number[], number][] = [
  [[1, 3], 1e-6],
  [[7, 5], 1e-6],
  [[5, 33], 1e-6],
  [[67, 129], 1e-6],
  [[200, 67], 1e-6],
  [[7, 384], 1e-6],
  [[3, 512], 1e-6],
  [[3, 513], 1e-6],
  [[2, 1024], 1e-5],
  [[1, 1030], 1e-5],
  [[2, 2048], 1e-5],
  [[2, 2049], 1e-5],
  [[2, 3, 5], 1e-5],
  [[1030, 3], 1e-6],
  [[1030, 33], 1e-6],
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
