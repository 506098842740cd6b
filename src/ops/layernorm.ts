// layerNorm(x, weight, bias, eps): normalises each row of the last axis to zero mean and unit
// variance, then scales by weight [D] and shifts by bias [D]. The forward saves mean and rstd per
// row; the backward gives dx, dweight and dbias (the latter summed over rows in a fixed order).
import code from "../../kernels/layernorm.wgsl?raw";
import { ceilDiv, grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { numel, shapeString, Tensor } from "../tensor/tensor";
import { rowThreads } from "./rows";

const PARAMS = { rows: "u32", cols: "u32", eps: "f32", groups: "u32", rows_per_group: "u32" } as const;
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

export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-6): Tensor {
  const cols = x.shape[x.rank - 1];
  const vector = (t: Tensor) => t.rank === 1 && t.shape[0] === cols;
  if (x.rank === 0 || cols === 0 || cols > MAX_LAYERNORM_DIM || !vector(weight) || !vector(bias)) {
    throw new Error(
      `layerNorm: x [..., D] with 0 < D <= ${MAX_LAYERNORM_DIM}, weight and bias [D] expected, got ` +
        `${shapeString(x.shape)}, ${shapeString(weight.shape)}, ${shapeString(bias.shape)}`,
    );
  }
  const gpu = x.gpu;
  const rows = numel(x.shape.slice(0, -1));
  const threads = rowThreads(cols);
  const constants = { THREADS: threads, PER_THREAD: ceilDiv(cols, threads) };
  const y = Tensor.empty(gpu, x.shape);
  const stats = Tensor.empty(gpu, [rows, 2]); // mean, rstd per row
  if (rows) {
    gpu.dispatch({
      kernel: forwardKernel,
      constants,
      // groups and rows_per_group are the backward's.
      params: { rows, cols, eps, groups: 0, rows_per_group: 0 },
      buffers: {
        x: x.binding,
        weight: weight.binding,
        bias: bias.binding,
        y: y.binding,
        stats: stats.binding,
      },
      workgroups: grid1d(rows, 1),
    });
  }
  const out = record("layerNorm", [x, weight, bias], y, (dy, into) => {
    const dx = into[0] ?? Tensor.empty(gpu, x.shape);
    // The finish kernel adds to both or to neither.
    const accumulate = into[1] !== undefined && into[2] !== undefined;
    const dweight = accumulate ? (into[1] as Tensor) : Tensor.empty(gpu, [cols]);
    const dbias = accumulate ? (into[2] as Tensor) : Tensor.empty(gpu, [cols]);
    const rowsPerGroup = Math.max(1, ceilDiv(rows, BACKWARD_GROUPS));
    const groups = ceilDiv(rows, rowsPerGroup);
    const partials = Tensor.empty(gpu, [groups, 2, cols]); // per group: dweight, dbias
    const params = { rows, cols, eps, groups, rows_per_group: rowsPerGroup };
    if (rows) {
      gpu.dispatch({
        kernel: backwardKernel,
        constants: { ...constants, ACCUMULATE_DX: into[0] ? 1 : 0 },
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
  });
  if (!out.requiresGrad) stats.dispose(); // nothing will run the backward
  return out;
}
