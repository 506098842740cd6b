// swiglu(x): x [..., 2h] = [x1 | x2] -> silu(x1) * x2 [..., h], fused forward and backward.
import code from "../../kernels/swiglu.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { shapeString, Tensor } from "../tensor/tensor";

const PARAMS = { rows: "u32", hidden: "u32" } as const;
const forwardKernel = kernel({
  name: "swiglu.forward",
  file: "swiglu.wgsl",
  code,
  entryPoint: "forward",
  params: PARAMS,
  bindings: ["x", "y"],
});
const backwardKernel = kernel({
  name: "swiglu.backward",
  file: "swiglu.wgsl",
  code,
  entryPoint: "backward",
  params: PARAMS,
  bindings: ["x_saved", "dy", "dx"],
});

export function swiglu(x: Tensor): Tensor {
  const width = x.shape[x.rank - 1];
  if (x.rank === 0 || width % 2 !== 0) {
    throw new Error(`swiglu: the last axis must hold [x1 | x2] of equal halves, got ${shapeString(x.shape)}`);
  }
  const hidden = width / 2;
  const rows = x.size / width;
  const y = Tensor.empty(x.gpu, [...x.shape.slice(0, -1), hidden]);
  if (y.size) {
    x.gpu.dispatch({
      kernel: forwardKernel,
      params: { rows, hidden },
      buffers: { x: x.binding, y: y.binding },
      workgroups: grid1d(y.size),
    });
  }
  return record("swiglu", [x], y, (dy) => {
    const dx = Tensor.empty(x.gpu, x.shape);
    if (dy.size) {
      x.gpu.dispatch({
        kernel: backwardKernel,
        params: { rows, hidden },
        buffers: { x_saved: x.binding, dy: dy.binding, dx: dx.binding },
        workgroups: grid1d(dy.size),
      });
    }
    return [dx];
  });
}
