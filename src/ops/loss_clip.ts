// CLIP contrastive loss (symmetric cross-entropy over the batch) from a similarity matrix of
// L2-normalised image and text embeddings and a learned log-scale: one scalar, with gradients
// for the similarities and the log-scale. TIPS uses it twice (web caption -> CLS#1,
// synthetic caption -> CLS#2).
import code from "../../kernels/loss_clip.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { shapeString, Tensor } from "../tensor/tensor";
import { rowThreads } from "./rows";

const PARAMS = { b: "u32" } as const;
const GRAD_INPUTS = ["sim_g", "log_scale_g", "lse_rows_g", "lse_cols_g", "dloss"] as const;
const lseKernel = kernel({
  name: "loss_clip.lse",
  file: "loss_clip.wgsl",
  code,
  entryPoint: "lse",
  params: PARAMS,
  bindings: ["sim", "log_scale", "lse_out"],
});
const totalKernel = kernel({
  name: "loss_clip.total",
  file: "loss_clip.wgsl",
  code,
  entryPoint: "total",
  params: PARAMS,
  bindings: ["sim_t", "log_scale_t", "lse_rows", "lse_cols", "loss"],
});
const gradKernel = kernel({
  name: "loss_clip.grad",
  file: "loss_clip.wgsl",
  code,
  entryPoint: "grad",
  params: PARAMS,
  bindings: [...GRAD_INPUTS, "dsim"],
});
const gradScaleKernel = kernel({
  name: "loss_clip.grad_scale",
  file: "loss_clip.wgsl",
  code,
  entryPoint: "grad_scale",
  params: PARAMS,
  bindings: [...GRAD_INPUTS, "dlog_scale"],
});

/** sim: [B, B] = image_embeddings @ text_embeddings^T; logScale: [1] (logit scale = exp). */
export function clipLoss(sim: Tensor, logScale: Tensor): Tensor {
  const b = sim.shape[0];
  if (sim.rank !== 2 || sim.shape[1] !== b || b === 0) {
    throw new Error(
      `clipLoss: similarities must be a non-empty square [B, B], got ${shapeString(sim.shape)}`,
    );
  }
  if (logScale.size !== 1)
    throw new Error(`clipLoss: logScale must hold one value, got ${shapeString(logScale.shape)}`);
  const gpu = sim.gpu;
  const threads = rowThreads(b, gpu.kernelTarget);
  const lseRows = Tensor.empty(gpu, [b]);
  const lseCols = Tensor.empty(gpu, [b]);
  const loss = Tensor.empty(gpu, [1]);
  for (const [out, columns] of [
    [lseRows, 0],
    [lseCols, 1],
  ] as const) {
    gpu.dispatch({
      kernel: lseKernel,
      constants: { COLUMNS: columns, THREADS: threads },
      params: { b },
      buffers: { sim: sim.binding, log_scale: logScale.binding, lse_out: out.binding },
      workgroups: [b],
    });
  }
  gpu.dispatch({
    kernel: totalKernel,
    constants: { THREADS: threads },
    params: { b },
    buffers: {
      sim_t: sim.binding,
      log_scale_t: logScale.binding,
      lse_rows: lseRows.binding,
      lse_cols: lseCols.binding,
      loss: loss.binding,
    },
    workgroups: [1],
  });
  return record("clipLoss", [sim, logScale], loss, (dLoss) => {
    const dSim = Tensor.empty(gpu, [b, b]);
    const dLogScale = Tensor.empty(gpu, [1]);
    const common = {
      sim_g: sim.binding,
      log_scale_g: logScale.binding,
      lse_rows_g: lseRows.binding,
      lse_cols_g: lseCols.binding,
      dloss: dLoss.binding,
    };
    gpu.dispatch({
      kernel: gradKernel,
      params: { b },
      buffers: { ...common, dsim: dSim.binding },
      workgroups: grid1d(b * b),
    });
    gpu.dispatch({
      kernel: gradScaleKernel,
      constants: { THREADS: rowThreads(b * b, gpu.kernelTarget) },
      params: { b },
      buffers: { ...common, dlog_scale: dLogScale.binding },
      workgroups: [1],
    });
    return [dSim, dLogScale];
  });
}
