// l2Normalize(x, eps): x / max(||x||_2, eps) over the last axis, as torch.nn.functional.normalize.
import code from "../../kernels/normalize.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { numel, shapeString, Tensor } from "../tensor/tensor";
import { rowThreads } from "./rows";

const PARAMS = { rows: "u32", cols: "u32", eps: "f32" } as const;
const forwardKernel = kernel({
  name: "normalize.forward",
  file: "normalize.wgsl",
  code,
  entryPoint: "forward",
  params: PARAMS,
  bindings: ["x", "y"],
});
const backwardKernel = kernel({
  name: "normalize.backward",
  file: "normalize.wgsl",
  code,
  entryPoint: "backward",
  params: PARAMS,
  bindings: ["x", "dy", "dx"],
});

/** Row values a thread keeps in registers (the kernels' CACHE); longer rows go in tiles. */
const MAX_PER_THREAD = 16;

/** eps defaults to 1e-3, the clip TIPS uses. */
export function l2Normalize(x: Tensor, eps = 1e-3): Tensor {
  if (x.rank === 0) throw new Error(`l2Normalize: needs at least one axis, got ${shapeString(x.shape)}`);
  const cols = x.shape[x.rank - 1];
  const rows = numel(x.shape.slice(0, -1));
  const threads = rowThreads(cols);
  const constants = {
    THREADS: threads,
    PER_THREAD: Math.min(MAX_PER_THREAD, Math.max(1, Math.ceil(cols / threads))),
  };
  const params = { rows, cols, eps };
  const y = Tensor.empty(x.gpu, x.shape);
  if (y.size) {
    x.gpu.dispatch({
      kernel: forwardKernel,
      constants,
      params,
      buffers: { x: x.binding, y: y.binding },
      workgroups: grid1d(rows, 1),
    });
  }
  return record("l2Normalize", [x], y, (dy) => {
    const dx = Tensor.empty(x.gpu, x.shape);
    if (dx.size) {
      x.gpu.dispatch({
        kernel: backwardKernel,
        constants,
        params,
        buffers: { x: x.binding, dy: dy.binding, dx: dx.binding },
        workgroups: grid1d(rows, 1),
      });
    }
    return [dx];
  });
}
