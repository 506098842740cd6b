// l2Normalize(x, eps): x / max(||x||_2, eps) over the last axis, as torch.nn.functional.normalize;
// normalizedLinear(x, w, eps): the product with a weight of normalised rows (DINO's last layer).
import code from "../../kernels/normalize.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { numel, shapeString, Tensor } from "../tensor/tensor";
import { product } from "./matmul";
import { rowThreads } from "./rows";

const PARAMS = { rows: "u32", cols: "u32", eps: "f32", accumulate: "u32" } as const;
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

function rowsOf(x: Tensor, eps: number, accumulate = false) {
  const cols = x.shape[x.rank - 1];
  const rows = numel(x.shape.slice(0, -1));
  const threads = rowThreads(cols, x.gpu.kernelTarget);
  const constants = {
    THREADS: threads,
    PER_THREAD: Math.min(MAX_PER_THREAD, Math.max(1, Math.ceil(cols / threads))),
  };
  return {
    constants,
    params: { rows, cols, eps, accumulate: accumulate ? 1 : 0 },
    workgroups: grid1d(rows, 1),
  };
}

/** The forward kernel alone: y = x / max(||x||, eps) per row, recording nothing. */
function normalizeRows(x: Tensor, eps: number): Tensor {
  const y = Tensor.empty(x.gpu, x.shape);
  if (y.size)
    x.gpu.dispatch({ kernel: forwardKernel, ...rowsOf(x, eps), buffers: { x: x.binding, y: y.binding } });
  return y;
}

/** The backward kernel alone: dx given dy, the gradient of normalizeRows(x); added to `into` if given. */
function normalizeRowsGrad(x: Tensor, dy: Tensor, eps: number, into?: Tensor): Tensor {
  const dx = into ?? Tensor.empty(x.gpu, x.shape);
  if (dx.size) {
    x.gpu.dispatch({
      kernel: backwardKernel,
      ...rowsOf(x, eps, into !== undefined),
      buffers: { x: x.binding, dy: dy.binding, dx: dx.binding },
    });
  }
  return dx;
}

/** eps defaults to 1e-3, the clip TIPS uses. */
export function l2Normalize(x: Tensor, eps = 1e-3): Tensor {
  if (x.rank === 0) throw new Error(`l2Normalize: needs at least one axis, got ${shapeString(x.shape)}`);
  return record("l2Normalize", [x], normalizeRows(x, eps), (dy) => [normalizeRowsGrad(x, dy, eps)]);
}

/**
 * x l2Normalize(w, eps)^T, w [N, K] (a weight-normalised Linear without bias, as DINO's last
 * layer: N prototypes of K), as one node. The normalised weight is made for the product and again
 * by the backward, not kept between them: it is as large as w (64 MiB for 65,536 prototypes of
 * 256), and making it is one pass over w, against the product's pass over w for each row of x.
 */
export function normalizedLinear(x: Tensor, w: Tensor, eps: number): Tensor {
  if (w.rank !== 2 || x.rank === 0 || x.shape[x.rank - 1] !== w.shape[1]) {
    throw new Error(
      `normalizedLinear: x [..., K] and w [N, K] expected, got ${x.describe()}, ${w.describe()}`,
    );
  }
  const wHat = normalizeRows(w, eps);
  const { out } = product(x, wHat, { transB: true });
  wHat.dispose();
  return record("normalizedLinear", [x, w], out, (dOut, into) => {
    const wHat = normalizeRows(w, eps);
    const dx = x.requiresGrad ? product(dOut, wHat, { into: into[0] }).out : null;
    wHat.dispose();
    if (!w.requiresGrad) return [dx, null];
    // dŵ = dOut^T x over every row of x, then back through the normalisation.
    const k = w.shape[1];
    const x2 = x.reshape([-1, k]);
    const dOut2 = dOut.reshape([-1, w.shape[0]]);
    const dwHat = product(dOut2, x2, { transA: true }).out;
    x2.dispose();
    dOut2.dispose();
    const dw = normalizeRowsGrad(w, dwHat, eps, into[1]);
    dwHat.dispose();
    return [dx, dw];
  });
}
