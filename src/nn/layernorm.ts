// LayerNorm over the last axis with learned weight (ones) and bias (zeros), no weight decay.
import { layerNorm, layerNormDeferred, type Normalized } from "../ops/layernorm";
import type { ParameterStore } from "../tensor/params";
import type { Tensor } from "../tensor/tensor";

export class LayerNorm {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(
    params: ParameterStore,
    name: string,
    dim: number,
    readonly eps: number,
  ) {
    this.weight = params.create(`${name}.weight`, [dim], new Float32Array(dim).fill(1));
    this.bias = params.create(`${name}.bias`, [dim], new Float32Array(dim));
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }

  /** LN(x) for a Linear to normalise as it loads x (ops/layernorm.ts): LN(x) is never written. */
  deferred(x: Tensor): Normalized {
    return layerNormDeferred(x, this.weight, this.bias, this.eps);
  }
}
