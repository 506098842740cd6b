// Sinkhorn-Knopp self-distillation targets (DINOv2): log q for teacher logits [R, K], rows of q
// summing to 1 with equal mass per prototype over the batch. No gradient (teacher side only).
import code from "../../kernels/sinkhorn.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { noGrad } from "../tensor/tape";
import { shapeString, Tensor } from "../tensor/tensor";
import { rowThreads } from "./rows";

const PARAMS = { rows: "u32", k: "u32", inv_tau: "f32" } as const;
const initKernel = kernel({
  name: "sinkhorn.init",
  file: "sinkhorn.wgsl",
  code,
  entryPoint: "init",
  params: PARAMS,
  bindings: ["logits", "out_init"],
});
const columnsKernel = kernel({
  name: "sinkhorn.columns",
  file: "sinkhorn.wgsl",
  code,
  entryPoint: "columns",
  params: PARAMS,
  bindings: ["lq"],
});
const rowsKernel = kernel({
  name: "sinkhorn.rows",
  file: "sinkhorn.wgsl",
  code,
  entryPoint: "rows",
  params: PARAMS,
  bindings: ["lq"],
});

/** DINOv2 runs three rounds of column and row normalisation. */
export const SINKHORN_ITERATIONS = 3;

export function sinkhornLogTargets(teacher: Tensor, tau: number, iterations = SINKHORN_ITERATIONS): Tensor {
  if (teacher.rank !== 2) {
    throw new Error(`sinkhornLogTargets: teacher logits [R, K] expected, got ${shapeString(teacher.shape)}`);
  }
  const [rows, k] = teacher.shape;
  const gpu = teacher.gpu;
  const params = { rows, k, inv_tau: 1 / tau };
  return noGrad(() => {
    const lq = Tensor.empty(gpu, [rows, k]);
    if (lq.size === 0) return lq;
    gpu.dispatch({
      kernel: initKernel,
      params,
      buffers: { logits: teacher.binding, out_init: lq.binding },
      workgroups: grid1d(rows * k),
    });
    for (let i = 0; i < iterations; i++) {
      gpu.dispatch({ kernel: columnsKernel, params, buffers: { lq: lq.binding }, workgroups: grid1d(k, 64) });
      gpu.dispatch({
        kernel: rowsKernel,
        constants: { THREADS: rowThreads(k, gpu.kernelTarget) },
        params,
        buffers: { lq: lq.binding },
        workgroups: grid1d(rows, 1),
      });
    }
    return lq;
  });
}
