// SPARC (arXiv 2401.09865), the fine-grained term: each caption token gets a language-grouped
// vision embedding, a sparse weighted mean of the image's patch embeddings, and a per-sample
// contrastive loss pulls each token towards its own grouped embedding and away from those of
// the caption's other tokens.
//
// What runs where: the similarities (tokens x patches), the grouping (weights x patches) and the
// token-grouped similarities are batched matmuls (the tiled kernel is the right tool for those
// reductions over D and P); the per-token min-max normalisation, 1/P sparsification and
// renormalisation is one fused kernel per direction (sparcWeights); the masked per-sample
// contrastive loss is one kernel family like the CLIP loss (sparcContrast). All in
// kernels/loss_sparc.wgsl.
import code from "../../kernels/loss_sparc.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { noGrad, record } from "../tensor/tape";
import { shapeString, Tensor } from "../tensor/tensor";
import { matmul } from "./matmul";
import { l2Normalize } from "./normalize";
import { sum } from "./reduce";
import { rowThreads } from "./rows";

const PARAMS = { rows: "u32", cols: "u32", scalar: "f32" } as const;
const weightsKernel = kernel({
  name: "loss_sparc.weights",
  file: "loss_sparc.wgsl",
  code,
  entryPoint: "weights",
  params: PARAMS,
  bindings: ["sim", "weights_out", "stats_out"],
});
const weightsBackwardKernel = kernel({
  name: "loss_sparc.weights_backward",
  file: "loss_sparc.wgsl",
  code,
  entryPoint: "weights_backward",
  params: PARAMS,
  bindings: ["weights_b", "stats_b", "dweights", "dsim"],
});
const lseKernel = kernel({
  name: "loss_sparc.fine_lse",
  file: "loss_sparc.wgsl",
  code,
  entryPoint: "fine_lse",
  params: PARAMS,
  bindings: ["fine", "token_mask", "lse_out"],
});
const totalKernel = kernel({
  name: "loss_sparc.fine_total",
  file: "loss_sparc.wgsl",
  code,
  entryPoint: "fine_total",
  params: PARAMS,
  bindings: ["fine_t", "mask_t", "counts_t", "lse_rows_t", "lse_cols_t", "loss"],
});
const gradKernel = kernel({
  name: "loss_sparc.fine_grad",
  file: "loss_sparc.wgsl",
  code,
  entryPoint: "fine_grad",
  params: PARAMS,
  bindings: ["fine_g", "mask_g", "counts_g", "lse_rows_g", "lse_cols_g", "dloss", "dfine"],
});

/**
 * sim: [..., P] token-patch similarities -> alignment weights [..., P]: per row min-max
 * normalised, entries below 1/P zeroed, renormalised to sum to 1. A constant row gets 1/P each.
 */
export function sparcWeights(sim: Tensor): Tensor {
  if (sim.rank === 0 || sim.shape[sim.rank - 1] === 0)
    throw new Error(`sparcWeights: needs similarities [..., P] with P > 0, got ${shapeString(sim.shape)}`);
  const gpu = sim.gpu;
  const cols = sim.shape[sim.rank - 1];
  const rows = sim.size / cols;
  const constants = { THREADS: rowThreads(cols, gpu.kernelTarget) };
  const params = { rows, cols, scalar: 1 / cols };
  const weights = Tensor.empty(gpu, sim.shape);
  const stats = Tensor.empty(gpu, [rows, 4]);
  if (rows > 0) {
    gpu.dispatch({
      kernel: weightsKernel,
      constants,
      params,
      buffers: { sim: sim.binding, weights_out: weights.binding, stats_out: stats.binding },
      workgroups: grid1d(rows, 1),
    });
  }
  return record("sparcWeights", [sim], weights, (dWeights) => {
    const dSim = Tensor.empty(gpu, sim.shape);
    if (rows > 0) {
      gpu.dispatch({
        kernel: weightsBackwardKernel,
        constants,
        params,
        buffers: {
          weights_b: weights.binding,
          stats_b: stats.binding,
          dweights: dWeights.binding,
          dsim: dSim.binding,
        },
        workgroups: grid1d(rows, 1),
      });
    }
    return [dSim];
  });
}

/**
 * fine: [B, L, L] with fine[b, r, c] = <token r, grouped embedding c> of sample b; tokenMask:
 * [B, L] (or [B, L, 1]) f32, 1 for real tokens. Returns the scalar loss: per sample, the
 * symmetric cross-entropy over its real tokens at temperature tau, averaged over its tokens,
 * then over samples. Gradient flows to `fine` only.
 */
export function sparcContrast(fine: Tensor, tokenMask: Tensor, tau: number): Tensor {
  const [b, l] = fine.shape;
  if (fine.rank !== 3 || fine.shape[2] !== l || b === 0 || l === 0)
    throw new Error(`sparcContrast: similarities [B, L, L] expected, got ${shapeString(fine.shape)}`);
  if (tokenMask.size !== b * l || tokenMask.shape[0] !== b)
    throw new Error(`sparcContrast: token mask [${b}, ${l}] expected, got ${shapeString(tokenMask.shape)}`);
  if (!(tau > 0)) throw new Error(`sparcContrast: the temperature must be positive, got ${tau}`);
  const gpu = fine.gpu;
  const mask = tokenMask.reshape([b, l]);
  const counts = noGrad(() => sum(mask, 1));
  const params = { rows: b, cols: l, scalar: 1 / tau };
  const threads = rowThreads(l, gpu.kernelTarget);
  const lseRows = Tensor.empty(gpu, [b, l]);
  const lseCols = Tensor.empty(gpu, [b, l]);
  for (const [out, columns] of [
    [lseRows, 0],
    [lseCols, 1],
  ] as const) {
    gpu.dispatch({
      kernel: lseKernel,
      constants: { THREADS: threads, COLUMNS: columns },
      params,
      buffers: { fine: fine.binding, token_mask: mask.binding, lse_out: out.binding },
      workgroups: grid1d(b * l, 1),
    });
  }
  const loss = Tensor.empty(gpu, [1]);
  gpu.dispatch({
    kernel: totalKernel,
    constants: { THREADS: rowThreads(b * l, gpu.kernelTarget) },
    params,
    buffers: {
      fine_t: fine.binding,
      mask_t: mask.binding,
      counts_t: counts.binding,
      lse_rows_t: lseRows.binding,
      lse_cols_t: lseCols.binding,
      loss: loss.binding,
    },
    workgroups: [1],
  });
  return record("sparcContrast", [fine], loss, (dLoss) => {
    const dFine = Tensor.empty(gpu, fine.shape);
    gpu.dispatch({
      kernel: gradKernel,
      params,
      buffers: {
        fine_g: fine.binding,
        mask_g: mask.binding,
        counts_g: counts.binding,
        lse_rows_g: lseRows.binding,
        lse_cols_g: lseCols.binding,
        dloss: dLoss.binding,
        dfine: dFine.binding,
      },
      workgroups: grid1d(b * l * l),
    });
    return [dFine];
  });
}

/**
 * The SPARC fine-grained loss of a batch. tokens: [B, L, D] per-token caption embeddings (zero
 * or anything at padding); patches: [B, P, D]; tokenMask: [B, L] or [B, L, 1], 1 = real token.
 * Tokens and patches are L2-normalised, the token-patch cosines give the alignment weights, the
 * grouped embedding (weights @ normalised patches) is L2-normalised, and the contrast runs on
 * token-grouped cosines at temperature tau.
 */
export function sparcLoss(tokens: Tensor, patches: Tensor, tokenMask: Tensor, tau: number): Tensor {
  const [b, l, d] = tokens.shape;
  if (tokens.rank !== 3 || patches.rank !== 3 || patches.shape[0] !== b || patches.shape[2] !== d)
    throw new Error(
      `sparcLoss: tokens [B, L, D] and patches [B, P, D] expected, got ${shapeString(tokens.shape)} and ${shapeString(patches.shape)}`,
    );
  const t = l2Normalize(tokens);
  const v = l2Normalize(patches);
  const weights = sparcWeights(matmul(t, v, { transB: true })); // [B, L, P]
  const grouped = l2Normalize(matmul(weights, v)); // [B, L, D]
  return sparcContrast(matmul(t, grouped, { transB: true }), tokenMask.reshape([b, l]), tau);
}
