// Sinkhorn-Knopp self-distillation targets (DINOv2): log q for teacher logits [R, K], rows of q
// summing to 1 with equal mass per prototype over the batch. No gradient (teacher side only).
import blockReduceCode from "../../kernels/block_reduce.wgsl?raw";
import rowCode from "../../kernels/sinkhorn.wgsl?raw";
import { f32, grid1d, kernel } from "../gpu/kernel";
import { noGrad } from "../tensor/tape";
import { shapeString, Tensor } from "../tensor/tensor";
import { rowThreads } from "./rows";

const code = blockReduceCode + rowCode;

const initKernel = kernel("sinkhorn.init", code, "init");
const columnsKernel = kernel("sinkhorn.columns", code, "columns");
const rowsKernel = kernel("sinkhorn.rows", code, "rows");

/** DINOv2 runs three rounds of column and row normalisation. */
export const SINKHORN_ITERATIONS = 3;

export function sinkhornLogTargets(teacher: Tensor, tau: number, iterations = SINKHORN_ITERATIONS): Tensor {
  if (teacher.rank !== 2) {
    throw new Error(`sinkhornLogTargets: teacher logits [R, K] expected, got ${shapeString(teacher.shape)}`);
  }
  const [rows, k] = teacher.shape;
  const gpu = teacher.gpu;
  const params = [rows, k, f32(1 / tau)];
  return noGrad(() => {
    const lq = Tensor.empty(gpu, [rows, k]);
    if (lq.size === 0) return lq;
    gpu.dispatch({
      kernel: initKernel,
      params,
      buffers: [teacher.binding, lq.binding],
      workgroups: grid1d(rows * k, 256),
    });
    for (let i = 0; i < iterations; i++) {
      gpu.dispatch({ kernel: columnsKernel, params, buffers: [lq.binding], workgroups: grid1d(k, 64) });
      gpu.dispatch({
        kernel: rowsKernel,
        constants: { THREADS: rowThreads(k) },
        params,
        buffers: [lq.binding],
        workgroups: grid1d(rows, 1),
      });
    }
    return lq;
  });
}
