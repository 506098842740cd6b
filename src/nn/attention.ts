// Multi-head self-attention: one qkv projection (rows [q | k | v], each head-major, as both
// official encoders store them), fused attention reading it in place, output projection.
import { selfAttention } from "../ops/attention";
import type { Normalized } from "../ops/layernorm";
import type { ParameterStore } from "../tensor/params";
import type { Rng } from "../tensor/rng";
import type { Tensor } from "../tensor/tensor";
import { Linear, type LinearInit } from "./linear";

export interface AttentionNames {
  qkv: LinearInit;
  proj: string;
}

export class SelfAttention {
  readonly qkv: Linear;
  readonly proj: Linear;

  constructor(
    params: ParameterStore,
    name: string,
    readonly dim: number,
    readonly heads: number,
    rng: Rng,
    init: LinearInit = {},
    names?: AttentionNames,
  ) {
    this.qkv = new Linear(params, `${name}.qkv`, dim, 3 * dim, rng, { ...init, ...names?.qkv });
    this.proj = new Linear(params, names?.proj ?? `${name}.proj`, dim, dim, rng, init);
  }

  /** x: [B, S, D] (or a layernorm of it, deferred); keyMask: [B, S] u32, 1 for real tokens (text padding). */
  forward(x: Tensor | Normalized, keyMask?: Tensor): Tensor {
    return this.proj.forward(selfAttention(this.qkv.forward(x), this.heads, { keyMask }));
  }
}
