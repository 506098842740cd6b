// addScaled(x, y, gamma) = x + y * gamma: a residual add with LayerScale (gamma [D] over the last
// axis) in one dispatch, where a broadcast mul and an add took two; its backward takes one where
// three were needed (dx is dOut itself; dy and dgamma come from one kernel).
import code from "../../kernels/layerscale.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { shapeString, Tensor } from "../tensor/tensor";
import { accumulate } from "./elementwise_kernels";

const PARAMS = { n: "u32", dim: "u32" } as const;
const forwardKernel = kernel({
  name: "layerscale.forward",
  file: "layerscale.wgsl",
  code,
  entryPoint: "forward",
  params: PARAMS,
  bindings: ["x", "y", "gamma", "out"],
});
const scaleRowsKernel = kernel({
  name: "layerscale.scale_rows",
  file: "layerscale.wgsl",
  code,
  entryPoint: "scale_rows",
  params: PARAMS,
  bindings: ["rows_d", "rows_gamma", "rows_out"],
});
const gammaGradKernel = kernel({
  name: "layerscale.gamma_grad",
  file: "layerscale.wgsl",
  code,
  entryPoint: "gamma_grad",
  params: PARAMS,
  bindings: ["grad_d", "grad_y", "grad_gamma"],
});
const backwardKernel = kernel({
  name: "layerscale.backward",
  file: "layerscale.wgsl",
  code,
  entryPoint: "backward",
  params: PARAMS,
  bindings: ["back_d", "back_y", "back_gamma", "back_dy", "back_dgamma"],
});

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
  const params = { n: x.size, dim };
  const out = Tensor.empty(gpu, x.shape);
  if (out.size) {
    gpu.dispatch({
      kernel: forwardKernel,
      params,
      buffers: { x: x.binding, y: y.binding, gamma: gamma.binding, out: out.binding },
      workgroups: grid1d(x.size),
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
        buffers: {
          back_d: d.binding,
          back_y: y.binding,
          back_gamma: gamma.binding,
          back_dy: dy.binding,
          back_dgamma: dgamma.binding,
        },
        workgroups: grid1d(dim),
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
          buffers: { rows_d: d.binding, rows_gamma: gamma.binding, rows_out: dy.binding },
          workgroups: grid1d(dy.size),
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
        buffers: { grad_d: d.binding, grad_y: y.binding, grad_gamma: dgamma.binding },
        workgroups: grid1d(dim),
      });
    }
    return [dx, dy, dgamma];
  });
}
