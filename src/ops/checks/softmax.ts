import type { OpCase } from "../check";
import { scale } from "../elementwise";
import { logSoftmax, softmax } from "../softmax";

/** float64 softmax (or log-softmax) over rows of `cols` of alpha * x. */
export function refSoftmax(cols: number, log: boolean, alpha = 1) {
  return ([x]: Float64Array[]) => {
    const y = new Float64Array(x.length);
    for (let r = 0; r < x.length / cols; r++) {
      const row = Array.from(x.subarray(r * cols, (r + 1) * cols), (v) => alpha * v);
      const max = row.reduce((a, v) => Math.max(a, v), -Infinity); // rows too long to spread
      const sum = row.reduce((a, v) => a + Math.exp(v - max), 0);
      for (let c = 0; c < cols; c++) {
        const z = row[c] - max;
        y[r * cols + c] = log ? z - Math.log(sum) : Math.exp(z) / sum;
      }
    }
    return y;
  };
}

// Rows of 1 to 5000 columns (4097 and 5000 > 4096 walk the row in two tiles). The workgroup has
// 32 threads up to 512 columns, 64 up to 1024, 128 up to 2048, else 256 (rows.ts).
const shapes = [
  [5],
  [3, 5, 1],
  [4, 33],
  [67, 129],
  [2, 3, 300],
  [3, 513],
  [3, 1030],
  [2, 2049],
  [2, 4097],
  [2, 5000],
];

export const softmaxCases: OpCase[] = [
  ...shapes.map(
    (shape): OpCase => ({
      name: `softmax ${shape}`,
      inputs: [{ shape }],
      run: ([x]) => softmax(x),
      reference: refSoftmax(shape[shape.length - 1], false),
    }),
  ),
  ...shapes.map(
    (shape): OpCase => ({
      name: `logSoftmax ${shape}`,
      inputs: [{ shape }],
      run: ([x]) => logSoftmax(x),
      reference: refSoftmax(shape[shape.length - 1], true),
    }),
  ),
  // Logits up to about +-100: exp overflows f32 without the max subtraction.
  {
    name: "softmax 7,300 of large logits",
    inputs: [{ shape: [7, 300] }],
    run: ([x]) => softmax(scale(x, 32)),
    reference: refSoftmax(300, false, 32),
  },
  {
    name: "logSoftmax 7,300 of large logits",
    inputs: [{ shape: [7, 300] }],
    run: ([x]) => logSoftmax(scale(x, 32)),
    reference: refSoftmax(300, true, 32),
  },
];
