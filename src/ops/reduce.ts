// sum and mean over axes (keepdims or not), and sumToShape (the backward of broadcasting).
import code from "../../kernels/reduce.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { numel, shapeString, Tensor } from "../tensor/tensor";
import { accumulate, binary } from "./elementwise_kernels";

const PARAMS = {
  n_out: "u32",
  n_red: "u32",
  keep_rank: "u32",
  red_rank: "u32",
  keep_shape: "array<vec4u, 2>",
  keep_stride: "array<vec4u, 2>",
  red_shape: "array<vec4u, 2>",
  red_stride: "array<vec4u, 2>",
} as const;
const stridedKernel = kernel({
  name: "reduce.strided",
  file: "reduce.wgsl",
  code,
  entryPoint: "strided",
  params: PARAMS,
  bindings: ["x", "out"],
});
const rowsKernel = kernel({
  name: "reduce.rows",
  file: "reduce.wgsl",
  code,
  entryPoint: "rows",
  params: PARAMS,
  bindings: ["x", "out"],
});
const columnsKernel = kernel({
  name: "reduce.columns",
  file: "reduce.wgsl",
  code,
  entryPoint: "columns",
  params: PARAMS,
  bindings: ["x", "out"],
});
/** Columns per workgroup of the columns kernel (COLUMN_LANES in reduce.wgsl). */
const COLUMN_LANES = 32;

function normaliseAxes(axes: number | number[] | undefined, rank: number): number[] {
  const list = axes === undefined ? [...Array(rank).keys()] : typeof axes === "number" ? [axes] : axes;
  const out = list.map((a) => (a < 0 ? a + rank : a));
  for (const a of out)
    if (a < 0 || a >= rank) throw new Error(`reduce: axis ${a} out of range for rank ${rank}`);
  return [...new Set(out)].sort((a, b) => a - b);
}

/** Sum over `axes` of x, output shape with those axes set to 1 (keepdims), or added to `into`. */
function reduceKeepdims(x: Tensor, axes: number[], mean: boolean, into?: Tensor): Tensor {
  const outShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = into ?? Tensor.empty(x.gpu, outShape);
  if (out.size === 0) return out;
  const strides: number[] = [];
  let s = 1;
  for (let i = x.rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= x.shape[i];
  }
  const kept = [...x.shape.keys()].filter((i) => !axes.includes(i) && x.shape[i] !== 1);
  const red = axes.filter((i) => x.shape[i] !== 1);
  const nRed = numel(red.map((i) => x.shape[i]));
  if (kept.length > 8 || red.length > 8) throw new Error(`reduce: rank ${x.rank} is over 8`);
  // Contiguous rows: the last axis reduced, or every axis (a loss's mean: one row of 256 lanes,
  // where the columns kernel would give it 8).
  const rowsCase = ((red.length === 1 && red[0] === x.rank - 1) || kept.length === 0) && nRed >= 64;
  // Every reduced axis before every kept one: x is [nRed, out.size] in memory.
  const columnsCase = !rowsCase && red.length > 0 && kept.every((k) => red.every((r) => r < k));
  const params = {
    n_out: out.size,
    n_red: nRed,
    keep_rank: kept.length,
    red_rank: red.length,
    keep_shape: kept.map((i) => x.shape[i]),
    keep_stride: kept.map((i) => strides[i]),
    red_shape: red.map((i) => x.shape[i]),
    red_stride: red.map((i) => strides[i]),
  };
  x.gpu.dispatch({
    kernel: rowsCase ? rowsKernel : columnsCase ? columnsKernel : stridedKernel,
    constants: { MEAN: mean ? 1 : 0, ACCUMULATE: into ? 1 : 0 },
    params,
    buffers: { x: x.binding, out: out.binding },
    workgroups: rowsCase
      ? grid1d(out.size, 1)
      : columnsCase
        ? grid1d(out.size, COLUMN_LANES)
        : grid1d(out.size),
  });
  return out;
}

function reduce(x: Tensor, axes: number | number[] | undefined, keepdims: boolean, mean: boolean): Tensor {
  const list = normaliseAxes(axes, x.rank);
  const kd = reduceKeepdims(x, list, mean);
  const finalShape = keepdims ? kd.shape : x.shape.filter((_, i) => !list.includes(i));
  const out = keepdims ? kd : kd.reshape(finalShape);
  if (!keepdims) kd.dispose();
  const count = numel(list.map((i) => x.shape[i]));
  // The gradient broadcast back (elementwise.ts's broadcastTo, which the backward need not record).
  return record(mean ? "mean" : "sum", [x], out, (d) => {
    const g = d.reshape(kd.shape);
    return [binary("first", g, g, x.shape, mean ? 1 / count : 1)];
  });
}

export function sum(x: Tensor, axes?: number | number[], keepdims = false): Tensor {
  return reduce(x, axes, keepdims, false);
}

export function mean(x: Tensor, axes?: number | number[], keepdims = false): Tensor {
  return reduce(x, axes, keepdims, true);
}

/**
 * Sums the broadcast axes of a gradient so it has `shape` again (identity if it already has), or
 * adds that sum to `into` in place and returns it.
 */
export function sumToShape(d: Tensor, shape: readonly number[], into?: Tensor): Tensor {
  const same = d.shape.length === shape.length && d.shape.every((v, i) => v === shape[i]);
  if (same && into) accumulate(into, d);
  if (same) return into ?? d;
  const lead = d.rank - shape.length;
  if (lead < 0)
    throw new Error(`sumToShape: ${shapeString(d.shape)} has fewer axes than ${shapeString(shape)}`);
  const axes = [...d.shape.keys()].filter((i) => i < lead || (shape[i - lead] === 1 && d.shape[i] !== 1));
  if (into) {
    reduceKeepdims(d, axes, false, into);
    return into;
  }
  const kd = reduceKeepdims(d, axes, false);
  const out = kd.reshape(shape);
  kd.dispose();
  return out;
}
