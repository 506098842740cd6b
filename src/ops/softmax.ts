// softmax(x) and logSoftmax(x) over the last axis (any leading shape), numerically stable.
import code from "../../kernels/softmax.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { numel, shapeString, Tensor } from "../tensor/tensor";
import { rowThreads } from "./rows";

const forwardKernel = kernel({
  name: "softmax.forward",
  file: "softmax.wgsl",
  code,
  entryPoint: "forward",
  params: { rows: "u32", cols: "u32" },
  bindings: ["x", "y"],
});
const backwardKernel = kernel({
  name: "softmax.backward",
  file: "softmax.wgsl",
  code,
  entryPoint: "backward",
  params: { rows: "u32", cols: "u32" },
  bindings: ["y_saved", "dy", "dx"],
});

/** Row values a thread keeps in registers (the kernels' CACHE); longer rows go in tiles. */
const MAX_PER_THREAD = 16;

function rowSoftmax(x: Tensor, log: boolean): Tensor {
  const name = log ? "logSoftmax" : "softmax";
  if (x.rank === 0) throw new Error(`${name}: needs at least one axis, got ${shapeString(x.shape)}`);
  const cols = x.shape[x.rank - 1];
  const rows = numel(x.shape.slice(0, -1));
  const threads = rowThreads(cols, x.gpu.kernelTarget);
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
      params: { rows, cols },
      buffers: { x: x.binding, y: y.binding },
      workgroups: grid1d(rows, 1),
    });
  }
  return record(name, [x], y, (dy) => {
    const dx = Tensor.empty(x.gpu, x.shape);
    if (dx.size) {
      x.gpu.dispatch({
        kernel: backwardKernel,
        constants,
        params: { rows, cols },
        buffers: { y_saved: y.binding, dy: dy.binding, dx: dx.binding },
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
