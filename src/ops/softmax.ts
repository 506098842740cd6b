// softmax(x) and logSoftmax(x) over the last axis (any leading shape), numerically stable.
import blockReduceCode from "../../kernels/block_reduce.wgsl?raw";
import rowCode from "../../kernels/softmax.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { numel, shapeString, Tensor } from "../tensor/tensor";
import { rowThreads } from "./rows";

const code = blockReduceCode + rowCode;

const forwardKernel = kernel("softmax.forward", code, "forward");
const backwardKernel = kernel("softmax.backward", code, "backward");

/** Row values a thread keeps in registers (the kernels' CACHE); longer rows go in tiles. */
const MAX_PER_THREAD = 16;

function rowSoftmax(x: Tensor, log: boolean): Tensor {
  const name = log ? "logSoftmax" : "softmax";
  if (x.rank === 0) throw new Error(`${name}: needs at least one axis, got ${shapeString(x.shape)}`);
  const cols = x.shape[x.rank - 1];
  const rows = numel(x.shape.slice(0, -1));
  const threads = rowThreads(cols);
  const constants = {
    THREADS: threads,
    PER_THREAD: Math.min(MAX_PER_THREAD, Math.max(1, Math.ceil(cols / threads))),
    LOG: log ? 1 : 0,
  };
  const y = Tensor.empty(x.gpu, x.shape);
  if (y.size) {
    x.gpu.dispatch({
      kernel: forwardKernel,
      constants,
      params: [rows, cols],
      buffers: [x.binding, y.binding],
      workgroups: grid1d(rows, 1),
    });
  }
  return record(name, [x], y, (dy) => {
    const dx = Tensor.empty(x.gpu, x.shape);
    if (dx.size) {
      x.gpu.dispatch({
        kernel: backwardKernel,
        constants,
        params: [rows, cols],
        buffers: [y.binding, dy.binding, dx.binding],
        workgroups: grid1d(rows, 1),
      });
    }
    return [dx];
  });
}

/** exp(x - max) / sum(exp(x - max)) over the last axis. */
export function softmax(x: Tensor): Tensor {
  return rowSoftmax(x, false);
}

/** x - max - log(sum(exp(x - max))) over the last axis. */
export function logSoftmax(x: Tensor): Tensor {
  return rowSoftmax(x, true);
}
