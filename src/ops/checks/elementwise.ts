import { numel } from "../../tensor/tensor";
import type { OpCase } from "../check";
import { add, broadcastTo, div, mul, relu, scale, sub } from "../elementwise";
import { broadcastShape, broadcastStrides } from "../elementwise_kernels";

/** float64 broadcasting binary op on flat arrays. */
function refBinary(f: (x: number, y: number) => number, sa: number[], sb: number[]) {
  return ([a, b]: Float64Array[]) => {
    const shape = broadcastShape(sa, sb);
    const stA = broadcastStrides(sa, shape);
    const stB = broadcastStrides(sb, shape);
    const out = new Float64Array(numel(shape));
    for (let i = 0; i < out.length; i++) {
      let rem = i;
      let ia = 0;
      let ib = 0;
      for (let d = shape.length - 1; d >= 0; d--) {
        const c = rem % shape[d];
        rem = Math.floor(rem / shape[d]);
        ia += c * stA[d];
        ib += c * stB[d];
      }
      out[i] = f(a[ia], b[ib]);
    }
    return out;
  };
}

const shapes: [number[], number[]][] = [
  [[1], [1]],
  [
    [3, 5],
    [3, 5],
  ],
  [[67, 129], [129]],
  [
    [3, 1, 7],
    [4, 1],
  ],
  [
    [2, 3, 4, 5],
    [1, 3, 1, 5],
  ],
];

export const elementwiseCases: OpCase[] = [
  ...shapes.map(
    ([sa, sb]): OpCase => ({
      name: `add ${sa} + ${sb}`,
      inputs: [{ shape: sa }, { shape: sb }],
      run: ([a, b]) => add(a, b),
      reference: refBinary((x, y) => x + y, sa, sb),
    }),
  ),
  ...shapes.map(
    ([sa, sb]): OpCase => ({
      name: `sub ${sa} - ${sb}`,
      inputs: [{ shape: sa }, { shape: sb }],
      run: ([a, b]) => sub(a, b),
      reference: refBinary((x, y) => x - y, sa, sb),
    }),
  ),
  ...shapes.map(
    ([sa, sb]): OpCase => ({
      name: `mul ${sa} * ${sb}`,
      inputs: [{ shape: sa }, { shape: sb }],
      run: ([a, b]) => mul(a, b),
      reference: refBinary((x, y) => x * y, sa, sb),
    }),
  ),
  ...shapes.slice(1, 4).map(
    ([sa, sb]): OpCase => ({
      name: `div ${sa} / ${sb}`,
      inputs: [{ shape: sa }, { shape: sb, values: "positive" }],
      run: ([a, b]) => div(a, b),
      reference: refBinary((x, y) => x / y, sa, sb),
    }),
  ),
  ...(
    [
      [
        [1, 1, 5],
        [3, 1, 5],
      ],
      [
        [4, 1],
        [2, 3, 4, 7],
      ],
      [[67], [3, 67]],
    ] as [number[], number[]][]
  ).map(
    ([from, to]): OpCase => ({
      name: `broadcastTo ${from} -> ${to}`,
      inputs: [{ shape: from }],
      run: ([x]) => broadcastTo(x, to),
      reference: ([x]) => refBinary((v) => v, from, to)([x, new Float64Array(to.reduce((a, b) => a * b, 1))]),
    }),
  ),
  {
    // One tensor on both sides: its gradient, 2 d x, comes from one pass.
    name: "mul 5x67 * itself",
    inputs: [{ shape: [5, 67] }],
    run: ([x]) => mul(x, x),
    reference: ([x]) => x.map((v) => v * v),
  },
  {
    name: "scale 67x129 by -1.5 plus 0.25",
    inputs: [{ shape: [67, 129] }],
    run: ([x]) => scale(x, -1.5, 0.25),
    reference: ([x]) => x.map((v) => -1.5 * v + 0.25),
  },
  {
    name: "relu 3x5x7",
    inputs: [{ shape: [3, 5, 7] }],
    run: ([x]) => relu(x),
    reference: ([x]) => x.map((v) => Math.max(v, 0)),
  },
];
