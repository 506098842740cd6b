// add, sub, mul, div with numpy-style broadcasting; broadcastTo; scale (alpha*x + beta); relu.
// Each records its backward; the kernels' plain dispatches are in elementwise_kernels.ts.
import { record } from "../tensor/tape";
import type { Tensor } from "../tensor/tensor";
import { binary, unary } from "./elementwise_kernels";
import { sumToShape } from "./reduce";

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
