import type { OpCase } from "../check";
import { scale } from "../elementwise";
import { gelu } from "../gelu";

/**
 * float64 erf to about 1e-16 absolute: erf(z) = 2/sqrt(pi) exp(-z^2) sum_n 2^n z^(2n+1) / (2n+1)!!,
 * a series of positive terms (no cancellation); |erf(z)| rounds to 1 in float64 past |z| = 6.
 */
export function erf64(z: number): number {
  const a = Math.abs(z);
  if (a >= 6) return Math.sign(z);
  let term = a;
  let sum = a;
  for (let n = 1; term > 1e-17 * sum; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
  }
  return Math.sign(z) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}

/** float64 gelu(alpha * x + beta) elementwise. */
export function refGelu(alpha = 1, beta = 0) {
  return ([x]: Float64Array[]) =>
    x.map((v) => {
      const z = alpha * v + beta;
      return 0.5 * z * (1 + erf64(z / Math.SQRT2));
    });
}

// The kernels' erf approximation is good to 1.5e-7, well inside these tolerances; a cruder one
// (e.g. the tanh form of GELU, off by up to 5e-4) fails them.
const tolerances = { atol: 1e-6, rtol: 1e-5 };

export const geluCases: OpCase[] = [
  ...[[1], [3, 5], [67, 129]].map(
    (shape): OpCase => ({
      name: `gelu ${shape}`,
      inputs: [{ shape }],
      run: ([x]) => gelu(x),
      reference: refGelu(),
      ...tolerances,
    }),
  ),
  // x in [0.5, 2) maps exactly (in f32) onto [-6, 6) by 8x - 10: the whole range, tails included.
  {
    name: "gelu 3,300 over [-6, 6)",
    inputs: [{ shape: [3, 300], values: "positive" }],
    run: ([x]) => gelu(scale(x, 8, -10)),
    reference: refGelu(8, -10),
    ...tolerances,
  },
];
