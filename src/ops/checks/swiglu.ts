import type { OpCase } from "../check";
import { swiglu } from "../swiglu";

function refSwiglu(shape: number[]) {
  const h = shape[shape.length - 1] / 2;
  return ([x]: Float64Array[]) => {
    const rows = x.length / (2 * h);
    const y = new Float64Array(rows * h);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < h; c++) {
        const a = x[r * 2 * h + c];
        y[r * h + c] = (a / (1 + Math.exp(-a))) * x[r * 2 * h + h + c];
      }
    }
    return y;
  };
}

const shapes = [[2], [3, 10], [67, 258], [3, 5, 14]];

export const swigluCases: OpCase[] = shapes.map((shape) => ({
  name: `swiglu ${shape}`,
  inputs: [{ shape }],
  run: ([x]) => swiglu(x),
  reference: refSwiglu(shape),
}));
