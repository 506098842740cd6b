// gelu(x) = x * Phi(x), the exact erf form, elementwise.
import activationCode from "../../kernels/activation.wgsl?raw";
import code from "../../kernels/gelu.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { Tensor } from "../tensor/tensor";

const forwardKernel = kernel("gelu.forward", activationCode + code, "forward");
const backwardKernel = kernel("gelu.backward", activationCode + code, "backward");

export function gelu(x: Tensor): Tensor {
  const y = Tensor.empty(x.gpu, x.shape);
  if (y.size) {
    x.gpu.dispatch({
      kernel: forwardKernel,
      params: [x.size],
      buffers: [x.binding, y.binding],
      workgroups: grid1d(x.size, 256),
    });
  }
  return record("gelu", [x], y, (dy) => {
    const dx = Tensor.empty(x.gpu, x.shape);
    if (dx.size) {
      x.gpu.dispatch({
        kernel: backwardKernel,
        params: [x.size],
        buffers: [x.binding, dy.binding, dx.binding],
        workgroups: grid1d(x.size, 256),
      });
    }
    return [dx];
  });
}
