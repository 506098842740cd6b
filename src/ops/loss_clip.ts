// CLIP contrastive loss (symmetric cross-entropy over the batch) from a similarity matrix of
// L2-normalised image and text embeddings and a learned log-scale: one scalar, with gradients
// for the similarities and the log-scale. TIPS uses it twice (web caption -> CLS#1,
// synthetic caption -> CLS#2).
import blockReduceCode from "../../kernels/block_reduce.wgsl?raw";
import rowCode from "../../kernels/loss_clip.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { shapeString, Tensor } from "../tensor/tensor";
import { rowThreads } from "./rows";

const code = blockReduceCode + rowCode;

const lseKernel = kernel("loss_clip.lse", code, "lse");
const totalKernel = kernel("loss_clip.total", code, "total");
const gradKernel = kernel("loss_clip.grad", code, "grad");
const gradScaleKernel = kernel("loss_clip.grad_scale", code, "grad_scale");

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
  const threads = rowThreads(b);
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
      params: [b],
      buffers: [sim.binding, logScale.binding, out.binding],
      workgroups: [b],
    });
  }
  gpu.dispatch({
    kernel: totalKernel,
    constants: { THREADS: threads },
    params: [b],
    buffers: [sim.binding, logScale.binding, lseRows.binding, lseCols.binding, loss.binding],
    workgroups: [1],
  });
  return record("clipLoss", [sim, logScale], loss, (dLoss) => {
    const dSim = Tensor.empty(gpu, [b, b]);
    const dLogScale = Tensor.empty(gpu, [1]);
    const common = [sim.binding, logScale.binding, lseRows.binding, lseCols.binding, dLoss.binding];
    gpu.dispatch({
      kernel: gradKernel,
      params: [b],
      buffers: [...common, dSim.binding],
      workgroups: grid1d(b * b, 256),
    });
    gpu.dispatch({
      kernel: gradScaleKernel,
      constants: { THREADS: rowThreads(b * b) },
      params: [b],
      buffers: [...common, dLogScale.binding],
      workgroups: [1],
    });
    return [dSim, dLogScale];
  });
}
