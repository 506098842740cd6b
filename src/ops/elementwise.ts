// add, sub, mul, div with numpy-style broadcasting; scale (alpha*x + beta); relu; fill.
import code from "../../kernels/elementwise.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { shapeString, Tensor } from "../tensor/tensor";
import { sumToShape } from "./reduce";

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

type BinaryOp = "add" | "sub" | "mul" | "div" | "first";
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
function binary(op: BinaryOp, a: Tensor, b: Tensor, to?: readonly number[], alpha = 1): Tensor {
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

function unary(op: number, x: Tensor, other: Tensor | null, alpha: number, beta: number): Tensor {
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

export function add(a: Tensor, b: Tensor): Tensor {
  const out = binary("add", a, b);
  return record("add", [a, b], out, (d, into) => [
    sumToShape(d, a.shape, into[0]),
    sumToShape(d, b.shape, into[1]),
  ]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  const out = binary("sub", a, b);
  return record("sub", [a, b], out, (d) => [
    a.requiresGrad ? sumToShape(d, a.shape) : null,
    b.requiresGrad ? sumToShape(scale(d, -1), b.shape) : null,
  ]);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  const out = binary("mul", a, b);
  // x * x: d(x^2) = 2 d x in one pass, given as the first input's gradient only.
  if (a === b)
    return record("mul", [a, b], out, (d, into) => [
      a.requiresGrad ? sumToShape(binary("mul", d, a, undefined, 2), a.shape, into[0]) : null,
      null,
    ]);
  return record("mul", [a, b], out, (d, into) => [
    a.requiresGrad ? sumToShape(binary("mul", d, b), a.shape, into[0]) : null,
    b.requiresGrad ? sumToShape(binary("mul", d, a), b.shape, into[1]) : null,
  ]);
}

export function div(a: Tensor, b: Tensor): Tensor {
  const out = binary("div", a, b);
  return record("div", [a, b], out, (d) => [
    a.requiresGrad ? sumToShape(binary("div", d, b), a.shape) : null,
    // d(a/b)/db = -out / b
    b.requiresGrad ? sumToShape(scale(binary("mul", d, binary("div", out, b)), -1), b.shape) : null,
  ]);
}

/** x repeated along its size-1 (or missing leading) axes to `shape`, times alpha. */
export function broadcastTo(x: Tensor, shape: readonly number[], alpha = 1): Tensor {
  const out = binary("first", x, x, shape, alpha);
  return record("broadcastTo", [x], out, (d) => {
    const g = sumToShape(d, x.shape);
    return [alpha === 1 ? g : scale(g, alpha)];
  });
}

/** alpha * x + beta. */
export function scale(x: Tensor, alpha: number, beta = 0): Tensor {
  const out = unary(0, x, null, alpha, beta);
  return record("scale", [x], out, (d) => [unary(0, d, null, alpha, 0)]);
}

export function relu(x: Tensor): Tensor {
  const out = unary(1, x, null, 0, 0);
  return record("relu", [x], out, (d) => [unary(2, x, d, 0, 0)]);
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
