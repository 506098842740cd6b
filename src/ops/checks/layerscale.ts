import type { OpCase } from "../check";
import { addScaled } from "../layerscale";

/** float64 x + y * gamma, gamma over the last axis. */
function refAddScaled([x, y, gamma]: Float64Array[]): Float64Array {
  return x.map((v, i) => v + y[i] * gamma[i % gamma.length]);
}

export const layerScaleCases: OpCase[] = [
  ...[
    [1, 1],
    [3, 5],
    [2, 7, 33],
    [300, 3],
  ].map(
    (shape): OpCase => ({
      name: `addScaled ${shape}`,
      inputs: [{ shape }, { shape }, { shape: [shape[shape.length - 1]] }],
      run: ([x, y, gamma]) => addScaled(x, y, gamma),
      reference: refAddScaled,
    }),
  ),
  // Without gamma's gradient its backward takes the kernel that computes dy alone.
  {
    name: "addScaled 3,5, gamma fixed",
    inputs: [{ shape: [3, 5] }, { shape: [3, 5] }, { shape: [5], grad: false }],
    run: ([x, y, gamma]) => addScaled(x, y, gamma),
    reference: refAddScaled,
  },
];
