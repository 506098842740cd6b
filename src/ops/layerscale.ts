// addScaled(x, y, gamma) = x + y * gamma: a residual add with LayerScale (gamma [D] over the last
// axis) in one dispatch, where a broadcast mul and an add took two; its backward takes one where
// three were needed (dx is dOut itself; dy and dgamma come from one kernel).
import code from "../../kernels/layerscale.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { shapeString, Tensor } from "../tensor/tensor";
import { accumulate } from "./elementwise";

const forwardKernel = kernel("layerscale.forward", code, "forward");
const scaleRowsKernel = kernel("layerscale.scale_rows", code, "scale_rows");
const gammaGradKernel = kernel("layerscale.gamma_grad", code, "gamma_grad");
const backwardKernel = kernel("layerscale.backward", code, "backward");

export function addScaled(x: Tensor, y: Tensor, gamma: Tensor): Tensor {
  const dim = x.shape[x.rank - 1];
  const sameShape = x.rank === y.rank && x.shape.every((d, i) => d === y.shape[i]);
  if (x.rank === 0 || !sameShape || gamma.rank !== 1 || gamma.shape[0] !== dim) {
    throw new Error(
      `addScaled: x and y [..., D] of one shape and gamma [D] expected, got ` +
        `${shapeString(x.shape)}, ${shapeString(y.shape)}, ${shapeString(gamma.shape)}`,
    );
  }
  const gpu = x.gpu;
  const params = [x.size, dim];
  const out = Tensor.empty(gpu, x.shape);
  if (out.size) {
    gpu.dispatch({
      kernel: forwardKernel,
      params,
      buffers: [x.binding, y.binding, gamma.binding, out.binding],
      workgroups: grid1d(x.size, 256),
    });
  }
  return record("addScaled", [x, y, gamma], out, (d, into) => {
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      if (into[0]) accumulate(into[0], d);
      dx = into[0] ?? d;
    }
    if (y.requiresGrad && gamma.requiresGrad) {
      const dy = Tensor.empty(gpu, y.shape);
      const dgamma = into[2] ?? Tensor.empty(gpu, gamma.shape);
      gpu.dispatch({
        kernel: backwardKernel,
        constants: { ACCUMULATE: into[2] ? 1 : 0 },
        params,
        buffers: [d.binding, y.binding, gamma.binding, dy.binding, dgamma.binding],
        workgroups: grid1d(dim, 256),
      });
      return [dx, dy, dgamma];
    }
    let dy: Tensor | null = null;
    if (y.requiresGrad) {
      dy = Tensor.empty(gpu, y.shape);
      if (dy.size) {
        gpu.dispatch({
          kernel: scaleRowsKernel,
          params,
          buffers: [d.binding, gamma.binding, dy.binding],
          workgroups: grid1d(dy.size, 256),
        });
      }
    }
    let dgamma: Tensor | null = null;
    if (gamma.requiresGrad) {
      dgamma = into[2] ?? Tensor.empty(gpu, gamma.shape);
      gpu.dispatch({
        kernel: gammaGradKernel,
        constants: { ACCUMULATE: into[2] ? 1 : 0 },
        params,
        buffers: [d.binding, y.binding, dgamma.binding],
        workgroups: grid1d(dim, 256),
      });
    }
    return [dx, dy, dgamma];
  });
}
