import { numel } from "../../tensor/tensor";
import type { OpCase } from "../check";
import { mean, sum } from "../reduce";

/** float64 sum (or mean) over `axes` of a row-major array of `shape`. */
export function refReduce(shape: number[], axes: number[], isMean: boolean) {
  return ([x]: Float64Array[]) => {
    const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const out = new Float64Array(numel(outShape));
    for (let i = 0; i < x.length; i++) {
      let rem = i;
      let o = 0;
      let mult = 1;
      for (let d = shape.length - 1; d >= 0; d--) {
        const c = rem % shape[d];
        rem = Math.floor(rem / shape[d]);
        if (!axes.includes(d)) o += c * mult;
        mult *= outShape[d];
      }
      out[o] += x[i];
    }
    const count = numel(axes.map((a) => shape[a]));
    return isMean ? out.map((v) => v / count) : out;
  };
}

const cases: [number[], number[]][] = [
  [[1], [0]],
  [[3, 5], [1]],
  [[3, 5], [0]],
  [[67, 129], [1]],
  [
    [67, 129],
    [0, 1],
  ],
  [
    [3, 4, 5],
    [0, 2],
  ],
  [[2, 3, 300], [2]],
  [
    [2, 37, 70],
    [0, 1],
  ],
];

export const reduceCases: OpCase[] = [
  ...cases.map(
    ([shape, axes]): OpCase => ({
      name: `sum ${shape} over ${axes}`,
      inputs: [{ shape }],
      run: ([x]) => sum(x, axes),
      reference: refReduce(shape, axes, false),
    }),
  ),
  ...cases.map(
    ([shape, axes]): OpCase => ({
      name: `mean ${shape} over ${axes} keepdims`,
      inputs: [{ shape }],
      run: ([x]) => mean(x, axes, true),
      reference: refReduce(shape, axes, true),
    }),
  ),
];
