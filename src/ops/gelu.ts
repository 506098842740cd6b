// gelu(x) = x * Phi(x), the exact erf form, elementwise.
import code from "../../kernels/gelu.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { Tensor } from "../tensor/tensor";

const forwardKernel = kernel({
  name: "gelu.forward",
  file: "gelu.wgsl",
  code,
  entryPoint: "forward",
  params: { n: "u32" },
  bindings: ["x", "y"],
});
const backwardKernel = kernel({
  name: "gelu.backward",
  file: "gelu.wgsl",
  code,
  entryPoint: "backward",
  params: { n: "u32" },
  bindings: ["x", "dy", "dx"],
});

export function gelu(x: Tensor): Tensor {
  const y = Tensor.empty(x.gpu, x.shape);
  if (y.size) {
    x.gpu.dispatch({
      kernel: forwardKernel,
      params: { n: x.size },
      buffers: { x: x.binding, y: y.binding },
      workgroups: grid1d(x.size),
    });
  }
  return record("gelu", [x], y, (dy) => {
    const dx = Tensor.empty(x.gpu, x.shape);
    if (dx.size) {
      x.gpu.dispatch({
        kernel: backwardKernel,
        params: { n: x.size },
        buffers: { x: x.binding, dy: dy.binding, dx: dx.binding },
        workgroups: grid1d(x.size),
      });
    }
    return [dx];
  });
}
