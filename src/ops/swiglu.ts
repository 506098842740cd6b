// swiglu(x): x [..., 2h] = [x1 | x2] -> silu(x1) * x2 [..., h], fused forward and backward.
import activationCode from "../../kernels/activation.wgsl?raw";
import code from "../../kernels/swiglu.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { shapeString, Tensor } from "../tensor/tensor";

const forwardKernel = kernel("swiglu.forward", activationCode + code, "forward");
const backwardKernel = kernel("swiglu.backward", activationCode + code, "backward");

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
      params: [rows, hidden],
      buffers: [x.binding, y.binding],
      workgroups: grid1d(y.size, 256),
    });
  }
  return record("swiglu", [x], y, (dy) => {
    const dx = Tensor.empty(x.gpu, x.shape);
    if (dy.size) {
      x.gpu.dispatch({
        kernel: backwardKernel,
        params: [rows, hidden],
        buffers: [x.binding, dy.binding, dx.binding],
        workgroups: grid1d(dy.size, 256),
      });
    }
    return [dx];
  });
}
