// Two-layer feed-forward block: fc1 -> activation (fused into fc1's matmul) -> fc2, as in ViT
// blocks (GELU) and the text encoder (ReLU); one autograd node (ops/mlp.ts).
import type { Normalized } from "../ops/layernorm";
import { mlp } from "../ops/mlp";
import type { ParameterStore } from "../tensor/params";
import type { Rng } from "../tensor/rng";
import type { Tensor } from "../tensor/tensor";
import { type Activation, Linear, type LinearInit } from "./linear";

export class Mlp {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(
    params: ParameterStore,
    name: string,
    dims: { input: number; hidden: number; output: number },
    readonly activation: Activation,
    rng: Rng,
    init: LinearInit = {},
    /** The two layers' names, where they are not `${name}.fc1` and `${name}.fc2`. */
    names: { fc1: string; fc2: string } = { fc1: `${name}.fc1`, fc2: `${name}.fc2` },
  ) {
    this.fc1 = new Linear(params, names.fc1, dims.input, dims.hidden, rng, init);
    this.fc2 = new Linear(params, names.fc2, dims.hidden, dims.output, rng, init);
  }

  forward(x: Tensor | Normalized): Tensor {
    const weights = {
      w1: this.fc1.weight,
      b1: this.fc1.bias ?? undefined,
      w2: this.fc2.weight,
      b2: this.fc2.bias ?? undefined,
    };
    return mlp(x, weights, this.activation);
  }
}
