// layerNorm(x, weight, bias, eps): normalises each row of the last axis to zero mean and unit
// variance, then scales by weight [D] and shifts by bias [D]. The forward saves mean and rstd per
// row; the backward gives dx, dweight and dbias (the latter summed over rows in a fixed order).
// layerNormDeferred keeps only the statistics, for a product that normalises as it loads (Normalized).
import code from "../../kernels/layernorm.wgsl?raw";
import type { KernelTarget } from "../gpu/gpu";
import { ceilDiv, grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { numel, shapeString, Tensor } from "../tensor/tensor";
import { rowThreads } from "./rows";

const PARAMS = {
  rows: "u32",
  cols: "u32",
  eps: "f32",
  groups: "u32",
  rows_per_group: "u32",
  write_y: "u32",
} as const;
const forwardKernel = kernel({
  name: "layernorm.forward",
  file: "layernorm.wgsl",
  code,
  entryPoint: "forward",
  params: PARAMS,
  bindings: ["x", "weight", "bias", "y", "stats"],
});
const backwardKernel = kernel({
  name: "layernorm.backward",
  file: "layernorm.wgsl",
  code,
  entryPoint: "backward",
  params: PARAMS,
  bindings: ["x", "weight", "stats_saved", "dy", "dx", "partials"],
});
const finishKernel = kernel({
  name: "layernorm.finish",
  file: "layernorm.wgsl",
  code,
  entryPoint: "finish",
  params: PARAMS,
  bindings: ["partials_saved", "dweight", "dbias"],
});

/** The kernels keep a row in registers: up to 16 values for each of up to 256 threads. */
export const MAX_LAYERNORM_DIM = 4096;
/** The backward splits the rows among about this many workgroups (each sums its share of dweight, dbias). */
const BACKWARD_GROUPS = 512;

/**
 * Lanes of 32 threads that the finish kernel splits the groups' partials among: each lane adds
 * up at most 64 of them, so few groups take one lane (1, 2, 4 or 8; 8 from 257 groups on).
 */
function finishLanes(groups: number): number {
  let lanes = 1;
  while (lanes < 8 && lanes * 64 < groups) lanes *= 2;
  return lanes;
}

/**
 * LN(x) not yet written anywhere: x, the parameters and the rows' saved statistics. A Linear
 * reads it through its product, which normalises each element as it loads it (matmul.wgsl's
 * a_norm, b_norm), so the normalised tensor is never held from the forward to the backward.
 */
export interface Normalized {
  readonly x: Tensor;
  readonly weight: Tensor;
  readonly bias: Tensor;
  /** [rows, 2]: mean, rstd per row. */
  readonly stats: Tensor;
  readonly eps: number;
}

export function isNormalized(t: Tensor | Normalized): t is Normalized {
  return !(t instanceof Tensor);
}

/** Whether the backward has anything to give LN(x)'s inputs. */
export function normalizedNeedsGrad(n: Normalized): boolean {
  return n.x.requiresGrad || n.weight.requiresGrad || n.bias.requiresGrad;
}

/** The inputs checked, with an empty tensor for the rows' statistics. */
function prepare(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Normalized {
  const cols = x.shape[x.rank - 1];
  const vector = (t: Tensor) => t.rank === 1 && t.shape[0] === cols;
  if (x.rank === 0 || cols === 0 || cols > MAX_LAYERNORM_DIM || !vector(weight) || !vector(bias)) {
    throw new Error(
      `layerNorm: x [..., D] with 0 < D <= ${MAX_LAYERNORM_DIM}, weight and bias [D] expected, got ` +
        `${shapeString(x.shape)}, ${shapeString(weight.shape)}, ${shapeString(bias.shape)}`,
    );
  }
  return { x, weight, bias, stats: Tensor.empty(x.gpu, [numel(x.shape.slice(0, -1)), 2]), eps };
}

function rowConstants(cols: number, target: KernelTarget) {
  const threads = rowThreads(cols, target);
  return { THREADS: threads, PER_THREAD: ceilDiv(cols, threads) };
}

/** The forward kernel: the statistics, and y = LN(x) where y is given. */
function forward(n: Normalized, y: Tensor | null): void {
  const { x, weight, bias, stats, eps } = n;
  const cols = x.shape[x.rank - 1];
  const rows = stats.shape[0];
  if (!rows) return;
  x.gpu.dispatch({
    kernel: forwardKernel,
    constants: rowConstants(cols, x.gpu.kernelTarget),
    // groups and rows_per_group are the backward's.
    params: { rows, cols, eps, groups: 0, rows_per_group: 0, write_y: y ? 1 : 0 },
    buffers: {
      x: x.binding,
      weight: weight.binding,
      bias: bias.binding,
      y: y?.binding ?? x.gpu.dummy,
      stats: stats.binding,
    },
    workgroups: grid1d(rows, 1),
  });
}

/** LN(x) as its statistics only (one dispatch), for a product to normalise on load. Records nothing. */
export function layerNormDeferred(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-6): Normalized {
  const n = prepare(x, weight, bias, eps);
  forward(n, null);
  return n;
}

/**
 * dx, dweight, dbias given dy, the gradient of LN(x); into[j], where given, is added to in place
 * (dweight and dbias both or neither).
 */
export function layerNormGrads(n: Normalized, dy: Tensor, into: (Tensor | undefined)[]): Tensor[] {
  const { x, weight, stats, eps } = n;
  const gpu = x.gpu;
  const cols = x.shape[x.rank - 1];
  const rows = stats.shape[0];
  const dx = into[0] ?? Tensor.empty(gpu, x.shape);
  // The finish kernel adds to both or to neither.
  const accumulate = into[1] !== undefined && into[2] !== undefined;
  const dweight = accumulate ? (into[1] as Tensor) : Tensor.empty(gpu, [cols]);
  const dbias = accumulate ? (into[2] as Tensor) : Tensor.empty(gpu, [cols]);
  const rowsPerGroup = Math.max(1, ceilDiv(rows, BACKWARD_GROUPS));
  const groups = ceilDiv(rows, rowsPerGroup);
  const partials = Tensor.empty(gpu, [groups, 2, cols]); // per group: dweight, dbias
  const params = { rows, cols, eps, groups, rows_per_group: rowsPerGroup, write_y: 0 };
  if (rows) {
    gpu.dispatch({
      kernel: backwardKernel,
      constants: { ...rowConstants(cols, gpu.kernelTarget), ACCUMULATE_DX: into[0] ? 1 : 0 },
      params,
      buffers: {
        x: x.binding,
        weight: weight.binding,
        stats_saved: stats.binding,
        dy: dy.binding,
        dx: dx.binding,
        partials: partials.binding,
      },
      workgroups: grid1d(groups, 1),
    });
  }
  gpu.dispatch({
    kernel: finishKernel,
    constants: { FINISH_LANES: finishLanes(groups), ACCUMULATE: accumulate ? 1 : 0 },
    params,
    buffers: { partials_saved: partials.binding, dweight: dweight.binding, dbias: dbias.binding },
    workgroups: grid1d(2 * cols, 32),
  });
  partials.dispose();
  return [dx, dweight, dbias];
}

export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-6): Tensor {
  const n = prepare(x, weight, bias, eps);
  const y = Tensor.empty(x.gpu, x.shape);
  forward(n, y);
  const out = record("layerNorm", [x, weight, bias], y, (dy, into) => layerNormGrads(n, dy, into));
  if (!out.requiresGrad) n.stats.dispose(); // nothing will run the backward
  return out;
}
