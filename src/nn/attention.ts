// Multi-head self-attention: one qkv projection (rows [q | k | v], each head-major, as both
// official encoders store them), fused attention, output projection.
import { attention } from "../ops/attention";
import { slice, transpose } from "../ops/concat";
import type { ParameterStore } from "../tensor/params";
import type { Rng } from "../tensor/rng";
import type { Tensor } from "../tensor/tensor";
import { Linear, type LinearInit } from "./linear";

export interface AttentionNames {
  qkv: LinearInit;
  proj: string;
}

/** [B, S, 3D] -> q, k, v as [B, H, S, D/H]. */
export function splitHeads(qkv: Tensor, heads: number): [Tensor, Tensor, Tensor] {
  const [b, s, d3] = qkv.shape;
  const dh = d3 / 3 / heads;
  // [B, S, 3, H, Dh] -> [B, 3, S, H, Dh] -> [B, 3, H, S, Dh]
  const t = transpose(transpose(qkv.reshape([b, s, 3, heads, dh]), 1, 2), 2, 3);
  const part = (i: number) => slice(t, 1, i, i + 1).reshape([b, heads, s, dh]);
  return [part(0), part(1), part(2)];
}

/** [B, H, S, Dh] -> [B, S, H*Dh]. */
export function mergeHeads(x: Tensor): Tensor {
  const [b, h, s, dh] = x.shape;
  return transpose(x, 1, 2).reshape([b, s, h * dh]);
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

  /** x: [B, S, D]; keyMask: [B, S] u32, 1 for real tokens (text padding). */
  forward(x: Tensor, keyMask?: Tensor): Tensor {
    const [q, k, v] = splitHeads(this.qkv.forward(x), this.heads);
    return this.proj.forward(mergeHeads(attention(q, k, v, { keyMask })));
  }
}
