import { numel } from "../../tensor/tensor";
import type { OpCase } from "../check";
import { concat, slice, transpose } from "../concat";

function blocks(shape: number[], axis: number): [number, number, number] {
  return [numel(shape.slice(0, axis)), shape[axis], numel(shape.slice(axis + 1))];
}

function refConcat(shapes: number[][], axis: number) {
  return (xs: Float64Array[]) => {
    const a = axis < 0 ? axis + shapes[0].length : axis;
    const total = shapes.reduce((s, sh) => s + sh[a], 0);
    const [outer, , inner] = blocks(shapes[0], a);
    const out = new Float64Array(outer * total * inner);
    let start = 0;
    xs.forEach((x, j) => {
      const len = shapes[j][a];
      for (let o = 0; o < outer; o++)
        for (let k = 0; k < len * inner; k++) out[(o * total + start) * inner + k] = x[o * len * inner + k];
      start += len;
    });
    return out;
  };
}

function refSlice(shape: number[], axis: number, start: number, end: number) {
  return ([x]: Float64Array[]) => {
    const a = axis < 0 ? axis + shape.length : axis;
    const [outer, len, inner] = blocks(shape, a);
    const count = end - start;
    const out = new Float64Array(outer * count * inner);
    for (let o = 0; o < outer; o++)
      for (let k = 0; k < count * inner; k++) out[o * count * inner + k] = x[(o * len + start) * inner + k];
    return out;
  };
}

function refTranspose(shape: number[], a0: number, a1: number) {
  return ([x]: Float64Array[]) => {
    const rank = shape.length;
    const strides = shape.map((_, i) => numel(shape.slice(i + 1)));
    const outShape = [...shape];
    [outShape[a0], outShape[a1]] = [shape[a1], shape[a0]];
    const out = new Float64Array(x.length);
    for (let i = 0; i < out.length; i++) {
      let rem = i;
      let src = 0;
      for (let d = rank - 1; d >= 0; d--) {
        const c = rem % outShape[d];
        rem = Math.floor(rem / outShape[d]);
        const axis = d === a0 ? a1 : d === a1 ? a0 : d;
        src += c * strides[axis];
      }
      out[i] = x[src];
    }
    return out;
  };
}

// Copies are exact; the gradients are copies of the seed too.
const exact = { atol: 0, rtol: 0, gradAtol: 1e-6, gradRtol: 1e-6 };

const concatCases: [number[][], number][] = [
  [
    [
      [3, 5],
      [3, 2],
    ],
    1,
  ],
  [
    [
      [1, 4],
      [2, 4],
      [3, 4],
    ],
    0,
  ],
  [
    [
      [2, 3, 5],
      [2, 3, 5],
      [2, 3, 5],
    ],
    1,
  ],
  [
    [
      [67, 129],
      [67, 1],
    ],
    -1,
  ],
  [[[1], [1]], 0],
];

const sliceCases: [number[], number, number, number][] = [
  [[67, 129], 1, 3, 100],
  [[67, 129], 0, 1, 66],
  [[67, 129], -2, 0, 67],
  [[2, 3, 300], 2, 7, 290],
  [[2, 3, 300], 1, 2, 3],
];

const transposeCases: [number[], number, number][] = [
  [[3, 5, 7], 0, 2],
  [[3, 5, 7], 1, 2],
  [[3, 5, 7], 2, -3],
  [[67, 129], 0, 1],
  [[2, 3, 3, 2, 4], 1, 2], // attention head split shapes
  [[3, 5], 1, 1],
];

export const copyCases: OpCase[] = [
  ...concatCases.map(
    ([shapes, axis]): OpCase => ({
      name: `concat ${shapes.map((s) => `[${s}]`).join(" + ")} axis ${axis}`,
      inputs: shapes.map((shape) => ({ shape })),
      run: (xs) => concat(xs, axis),
      reference: refConcat(shapes, axis),
      ...exact,
    }),
  ),
  {
    name: "concat i32 [2,3] + [2,4] axis 1 is bit-exact",
    inputs: [
      { shape: [2, 3], dtype: "i32", values: { int: 1000 } },
      { shape: [2, 4], dtype: "i32", values: { int: 1000 } },
    ],
    run: (xs) => concat(xs, 1),
    reference: refConcat(
      [
        [2, 3],
        [2, 4],
      ],
      1,
    ),
    ...exact,
    noGrad: true,
  },
  ...sliceCases.map(
    ([shape, axis, start, end]): OpCase => ({
      name: `slice [${shape}] axis ${axis} [${start}, ${end})`,
      inputs: [{ shape }],
      run: ([x]) => slice(x, axis, start, end),
      reference: refSlice(shape, axis, start, end),
      ...exact,
    }),
  ),
  ...transposeCases.map(
    ([shape, a0, a1]): OpCase => ({
      name: `transpose [${shape}] axes ${a0}, ${a1}`,
      inputs: [{ shape }],
      run: ([x]) => transpose(x, a0, a1),
      reference: refTranspose(shape, a0 < 0 ? a0 + shape.length : a0, a1 < 0 ? a1 + shape.length : a1),
      ...exact,
    }),
  ),
  {
    name: "slices of a transposed concat, through the chain",
    inputs: [{ shape: [2, 3, 4] }, { shape: [2, 5, 4] }],
    run: ([a, b]) => slice(transpose(concat([a, b], 1), 1, 2), 2, 1, 7),
    reference: (xs) =>
      refSlice(
        [2, 4, 8],
        2,
        1,
        7,
      )([
        refTranspose(
          [2, 8, 4],
          1,
          2,
        )([
          refConcat(
            [
              [2, 3, 4],
              [2, 5, 4],
            ],
            1,
          )(xs),
        ]),
      ]),
    ...exact,
  },
  {
    // The second slice's gradient is added in place into the first one's pad (overlap [20, 50)).
    name: "overlapping slices of one tensor, gradients added in place",
    inputs: [{ shape: [3, 67] }],
    run: ([x]) => concat([slice(x, 1, 0, 50), slice(x, 1, 20, 67)], 1),
    reference: ([x]) =>
      refConcat(
        [
          [3, 50],
          [3, 47],
        ],
        1,
      )([refSlice([3, 67], 1, 0, 50)([x]), refSlice([3, 67], 1, 20, 67)([x])]),
    ...exact,
  },
];
