// The elementwise kernels as plain dispatches, recorded on no tape: broadcast arithmetic (binary),
// the unary ops (scale, relu and its gradient), accumulate, fill and full. The differentiable
// ops are built on them in elementwise.ts; reduce.ts and autograd.ts use them for gradients.
import code from "../../kernels/elementwise.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { shapeString, Tensor } from "../tensor/tensor";

const PARAMS = {
  n: "u32",
  rank: "u32",
  alpha: "f32",
  beta: "f32",
  shape: "array<vec4u, 2>",
  stride_a: "array<vec4u, 2>",
  stride_b: "array<vec4u, 2>",
} as const;
const binaryKernel = kernel({
  name: "elementwise.binary",
  file: "elementwise.wgsl",
  code,
  entryPoint: "binary",
  params: PARAMS,
  bindings: ["a", "b", "out"],
});
const unaryKernel = kernel({
  name: "elementwise.unary",
  file: "elementwise.wgsl",
  code,
  entryPoint: "unary",
  params: PARAMS,
  bindings: ["a", "b", "out"],
});

export type BinaryOp = "add" | "sub" | "mul" | "div" | "first";
const BINARY_CODE: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, first: 4 };
const MAX_RANK = 8;
const NO_AXES: number[] = [];

/** The broadcast shape of a and b (numpy rules), or an error naming both shapes. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`cannot broadcast shapes ${shapeString(a)} and ${shapeString(b)}`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Row-major strides of `shape` seen from an output of rank `rank`, 0 on broadcast axes. */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const strides = new Array(out.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const axis = out.length - shape.length + i;
    strides[axis] = shape[i] === 1 && out[axis] !== 1 ? 0 : s;
    s *= shape[i];
  }
  return strides;
}

/** alpha * (a op b), broadcast (to `to` where given). */
export function binary(op: BinaryOp, a: Tensor, b: Tensor, to?: readonly number[], alpha = 1): Tensor {
  const shape = to ? broadcastShape(a.shape, to) : broadcastShape(a.shape, b.shape);
  if (to && shape.some((d, i) => d !== to[i])) {
    throw new Error(`cannot broadcast ${shapeString(a.shape)} to ${shapeString(to)}`);
  }
  if (shape.length > MAX_RANK) throw new Error(`${op}: rank ${shape.length} is over ${MAX_RANK}`);
  const out = Tensor.empty(a.gpu, shape);
  if (out.size === 0) return out;
  const same = a.size === out.size && b.size === out.size;
  a.gpu.dispatch({
    kernel: binaryKernel,
    constants: { OP: BINARY_CODE[op], BROADCAST: same ? 0 : 1 },
    params: {
      n: out.size,
      rank: shape.length,
      alpha,
      beta: 0,
      shape,
      stride_a: broadcastStrides(a.shape, shape),
      stride_b: broadcastStrides(b.shape, shape),
    },
    buffers: { a: a.binding, b: b.binding, out: out.binding },
    workgroups: grid1d(out.size),
  });
  return out;
}

/** The unary kernel reads n, alpha and beta only: no shape or strides. */
function unaryParams(n: number, alpha: number, beta: number) {
  return { n, rank: 0, alpha, beta, shape: NO_AXES, stride_a: NO_AXES, stride_b: NO_AXES };
}

/** The unary kernel's op `op`: 0 alpha * x + beta, 1 relu(x), 2 `other` where x > 0 (relu's gradient). */
export function unary(op: number, x: Tensor, other: Tensor | null, alpha: number, beta: number): Tensor {
  const out = Tensor.empty(x.gpu, x.shape);
  if (out.size === 0) return out;
  x.gpu.dispatch({
    kernel: unaryKernel,
    constants: { OP: op },
    params: unaryParams(out.size, alpha, beta),
    buffers: { a: x.binding, b: (other ?? x).binding, out: out.binding },
    workgroups: grid1d(out.size),
  });
  return out;
}

/** target += alpha * d, in place (same number of elements); not recorded. */
export function accumulate(target: Tensor, d: Tensor, alpha = 1): void {
  if (target.size !== d.size)
    throw new Error(`accumulate: ${d.describe()} does not fit ${target.describe()}`);
  if (target.size) unaryInto(4, d.binding, target, 0, alpha);
}

/** Sets every element of t to value, in place; not recorded. */
export function fill(t: Tensor, value: number): void {
  if (t.size) unaryInto(3, t.gpu.dummy, t, value);
}

function unaryInto(op: number, x: GPUBuffer | GPUBufferBinding, out: Tensor, beta = 0, alpha = 0): void {
  out.gpu.dispatch({
    kernel: unaryKernel,
    constants: { OP: op },
    params: unaryParams(out.size, alpha, beta),
    buffers: { a: x, b: x, out: out.binding },
    workgroups: grid1d(out.size),
  });
}

/** A new tensor of `shape` filled with `value`, on the GPU of `like`. */
export function full(like: Tensor, shape: readonly number[], value: number): Tensor {
  const out = Tensor.empty(like.gpu, shape);
  if (out.size === 0) return out;
  like.gpu.dispatch({
    kernel: unaryKernel,
    constants: { OP: 3 },
    params: unaryParams(out.size, 0, value),
    buffers: { a: like.gpu.dummy, b: like.gpu.dummy, out: out.binding },
    workgroups: grid1d(out.size),
  });
  return out;
}
