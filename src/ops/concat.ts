// concat and slice along one axis, transpose of two axes: materialised copies by one strided-copy
// kernel (kernels/copy.wgsl), each tensor seen as [outer, axis, inner] blocks. They are one
// another's backward: concat's gradient is slices of dOut, slice's is dOut copied into a zero
// tensor of x's shape (a pad) or added into x's gradient in place, transpose's is the same transpose again. Any dtype copies exactly.
import code from "../../kernels/copy.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { numel, shapeString, Tensor } from "../tensor/tensor";
import { full } from "./elementwise_kernels";

const copyKernel = kernel({
  name: "copy",
  file: "copy.wgsl",
  code,
  params: {
    n: "u32",
    rank: "u32",
    src_base: "u32",
    dst_base: "u32",
    shape: "array<vec4u, 2>",
    src_stride: "array<vec4u, 2>",
    dst_stride: "array<vec4u, 2>",
  },
  bindings: ["src", "dst"],
});

/** Where the copied elements sit in a buffer: first element and a stride per iteration axis. */
interface Layout {
  base: number;
  strides: number[];
}

/**
 * The same copy over the fewest axes: size-1 axes dropped, and an axis merged into the next
 * inner one wherever both layouts step over it as one run. A copy of whole rows becomes rank 1,
 * which the kernel moves with no index division at all.
 */
function collapse(shape: number[], from: number[], to: number[]) {
  const dims: number[] = [];
  const src: number[] = [];
  const dst: number[] = [];
  for (let k = 0; k < shape.length; k++) {
    if (shape[k] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && src[last] === shape[k] * from[k] && dst[last] === shape[k] * to[k]) {
      dims[last] *= shape[k];
      src[last] = from[k];
      dst[last] = to[k];
    } else {
      dims.push(shape[k]);
      src.push(from[k]);
      dst.push(to[k]);
    }
  }
  return { dims, src, dst };
}

/** dst[dst layout of c] = src[src layout of c] (or += with add) for every coordinate c of `shape`. */
function stridedCopy(src: Tensor, from: Layout, dst: Tensor, to: Layout, shape: number[], add = false): void {
  const n = numel(shape);
  if (n === 0) return;
  const c = collapse(shape, from.strides, to.strides);
  src.gpu.dispatch({
    kernel: copyKernel,
    constants: { ACCUMULATE: add ? 1 : 0 },
    params: {
      n,
      rank: c.dims.length,
      src_base: from.base,
      dst_base: to.base,
      shape: c.dims,
      src_stride: c.src,
      dst_stride: c.dst,
    },
    buffers: { src: src.binding, dst: dst.binding },
    workgroups: grid1d(n),
  });
}

function normaliseAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank)
    throw new Error(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** shape as [outer, shape[axis], inner]. */
function blocks(shape: readonly number[], axis: number): [number, number, number] {
  return [numel(shape.slice(0, axis)), shape[axis], numel(shape.slice(axis + 1))];
}

/** Layout of the window [start, start + ...) along the middle axis of a [outer, len, inner] tensor. */
function window(len: number, inner: number, start: number): Layout {
  return { base: start * inner, strides: [len * inner, inner, 1] };
}

/** tensors joined along `axis`; all other dimensions (and dtypes) must agree. */
export function concat(tensors: Tensor[], axis: number): Tensor {
  if (!tensors.length) throw new Error("concat: no tensors");
  const first = tensors[0];
  const a = normaliseAxis("concat", axis, first.rank);
  for (const t of tensors) {
    const fits = t.rank === first.rank && t.shape.every((d, i) => i === a || d === first.shape[i]);
    if (!fits || t.dtype !== first.dtype) {
      const all = tensors.map((x) => `${x.dtype}${shapeString(x.shape)}`).join(", ");
      throw new Error(`concat: shapes ${all} differ outside axis ${axis}`);
    }
  }
  const starts: number[] = [];
  let total = 0;
  for (const t of tensors) {
    starts.push(total);
    total += t.shape[a];
  }
  const shape = first.shape.map((d, i) => (i === a ? total : d));
  const out = Tensor.empty(first.gpu, shape, first.dtype);
  const [outer, , inner] = blocks(shape, a);
  tensors.forEach((t, j) => {
    const len = t.shape[a];
    stridedCopy(t, window(len, inner, 0), out, window(total, inner, starts[j]), [outer, len, inner]);
  });
  return record("concat", tensors, out, (dOut) =>
    tensors.map((t, j) => (t.requiresGrad ? slice(dOut, a, starts[j], starts[j] + t.shape[a]) : null)),
  );
}

/** x[..., start:end, ...] along `axis`, as a new tensor. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normaliseAxis("slice", axis, x.rank);
  const [outer, len, inner] = blocks(x.shape, a);
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start > end || end > len) {
    throw new Error(`slice: range [${start}, ${end}) is not inside axis ${axis} of ${x.describe()}`);
  }
  const count = end - start;
  const out = Tensor.empty(
    x.gpu,
    x.shape.map((d, i) => (i === a ? count : d)),
    x.dtype,
  );
  stridedCopy(x, window(len, inner, start), out, window(count, inner, 0), [outer, count, inner]);
  return record("slice", [x], out, (dOut, into) => {
    const add = into[0] !== undefined; // x's gradient so far: added to in place, no pad
    const dx = into[0] ?? full(dOut, x.shape, 0);
    stridedCopy(dOut, window(count, inner, 0), dx, window(len, inner, start), [outer, count, inner], add);
    return [dx];
  });
}

/** x with axes a0 and a1 swapped, as a new contiguous tensor. */
export function transpose(x: Tensor, a0: number, a1: number): Tensor {
  const p = normaliseAxis("transpose", a0, x.rank);
  const q = normaliseAxis("transpose", a1, x.rank);
  const i = Math.min(p, q);
  const j = Math.max(p, q);
  const shape = [...x.shape];
  [shape[i], shape[j]] = [x.shape[j], x.shape[i]];
  const out = Tensor.empty(x.gpu, shape, x.dtype);
  if (i === j) {
    const flat: Layout = { base: 0, strides: [1] };
    stridedCopy(x, flat, out, flat, [x.size]);
  } else {
    // x as [A, n0, B, n1, C], read in the output's order [A, n1, B, n0, C].
    const A = numel(x.shape.slice(0, i));
    const n0 = x.shape[i];
    const B = numel(x.shape.slice(i + 1, j));
    const n1 = x.shape[j];
    const C = numel(x.shape.slice(j + 1));
    const from: Layout = { base: 0, strides: [n0 * B * n1 * C, C, n1 * C, B * n1 * C, 1] };
    const to: Layout = { base: 0, strides: [n1 * B * n0 * C, B * n0 * C, n0 * C, C, 1] };
    stridedCopy(x, from, out, to, [A, n1, B, n0, C]);
  }
  return record("transpose", [x], out, (dOut) => [transpose(dOut, a0, a1)]);
}
