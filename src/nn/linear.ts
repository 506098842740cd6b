// Linear layer with PyTorch's layout: weight (out, in), bias (out); y = x W^T + b, with an
// optional activation fused into the matmul epilogue.
import type { Normalized } from "../ops/layernorm";
import { matmul } from "../ops/matmul";
import type { ParameterStore } from "../tensor/params";
import type { Rng } from "../tensor/rng";
import type { Tensor } from "../tensor/tensor";

export type Activation = "none" | "relu" | "gelu";

export interface LinearInit {
  /** Weight init: "uniform" as torch.nn.Linear (U(+-1/sqrt(in))) or a truncated normal std (ViT: 0.02). */
  weight?: "uniform" | { truncNormal: number };
  bias?: boolean;
  /** Parameter names when they are not `${name}.weight` / `${name}.bias` (torch MultiheadAttention). */
  weightName?: string;
  biasName?: string;
}

export class Linear {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    params: ParameterStore,
    name: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    rng: Rng,
    init: LinearInit = {},
  ) {
    const bound = 1 / Math.sqrt(inFeatures);
    const n = inFeatures * outFeatures;
    const w =
      init.weight && init.weight !== "uniform"
        ? rng.truncNormal(n, init.weight.truncNormal)
        : rng.uniformArray(n, -bound, bound);
    this.weight = params.create(init.weightName ?? `${name}.weight`, [outFeatures, inFeatures], w);
    this.bias =
      init.bias === false
        ? null
        : params.create(
            init.biasName ?? `${name}.bias`,
            [outFeatures],
            init.weight && init.weight !== "uniform"
              ? new Float32Array(outFeatures)
              : rng.uniformArray(outFeatures, -bound, bound),
          );
  }

  /** x: a tensor, or a layernorm deferred to this product (LayerNorm.deferred). */
  forward(x: Tensor | Normalized, activation: Activation = "none"): Tensor {
    return matmul(x, this.weight, { transB: true, bias: this.bias ?? undefined, activation });
  }
}
