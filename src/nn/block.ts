// Pre-LN transformer block of the image encoder (DINOv2 layout, as TIPS ships it):
//   x += ls1 * proj(attn(norm1(x)));  x += ls2 * ffn(norm2(x))
// with LayerScale gammas and an exact-GELU MLP or a SwiGLU feed-forward (g/14).
import type { Normalized } from "../ops/layernorm";
import { addScaled } from "../ops/layerscale";
import { swiglu } from "../ops/swiglu";
import type { ParameterStore } from "../tensor/params";
import type { Rng } from "../tensor/rng";
import type { Tensor } from "../tensor/tensor";
import { SelfAttention } from "./attention";
import { LayerNorm } from "./layernorm";
import { Linear, type LinearInit } from "./linear";
import { Mlp } from "./mlp";

export interface BlockConfig {
  dim: number;
  heads: number;
  mlpHidden: number;
  ffn: "mlp" | "swiglu";
  eps: number;
  /** Initial LayerScale gamma (DINOv2: 1e-5 for training from scratch; checkpoints overwrite it). */
  layerScale: number;
  /** Std of the linear weights' truncated-normal init (DINOv2: 0.02). */
  initStd: number;
}

/** SwiGLU feed-forward: w12 D -> 2h, silu(x1) * x2, w3 h -> D (names as DINOv2's SwiGLUFFN). */
class SwiGluFfn {
  readonly w12: Linear;
  readonly w3: Linear;

  constructor(params: ParameterStore, name: string, dim: number, hidden: number, rng: Rng, init: LinearInit) {
    this.w12 = new Linear(params, `${name}.w12`, dim, 2 * hidden, rng, init);
    this.w3 = new Linear(params, `${name}.w3`, hidden, dim, rng, init);
  }

  forward(x: Tensor | Normalized): Tensor {
    return this.w3.forward(swiglu(this.w12.forward(x)));
  }
}

export class VitBlock {
  readonly norm1: LayerNorm;
  readonly attn: SelfAttention;
  readonly ls1: Tensor;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp | SwiGluFfn;
  readonly ls2: Tensor;

  constructor(params: ParameterStore, name: string, c: BlockConfig, rng: Rng) {
    const init: LinearInit = { weight: { truncNormal: c.initStd } };
    const gamma = () => new Float32Array(c.dim).fill(c.layerScale);
    this.norm1 = new LayerNorm(params, `${name}.norm1`, c.dim, c.eps);
    this.attn = new SelfAttention(params, `${name}.attn`, c.dim, c.heads, rng, init);
    this.ls1 = params.create(`${name}.ls1.gamma`, [c.dim], gamma());
    this.norm2 = new LayerNorm(params, `${name}.norm2`, c.dim, c.eps);
    this.mlp =
      c.ffn === "swiglu"
        ? new SwiGluFfn(params, `${name}.mlp`, c.dim, c.mlpHidden, rng, init)
        : new Mlp(
            params,
            `${name}.mlp`,
            { input: c.dim, hidden: c.mlpHidden, output: c.dim },
            "gelu",
            rng,
            init,
          );
    this.ls2 = params.create(`${name}.ls2.gamma`, [c.dim], gamma());
  }

  forward(x: Tensor): Tensor {
    // The norms are deferred to the products that read them (see LayerNorm.deferred).
    const h = addScaled(x, this.attn.forward(this.norm1.deferred(x)), this.ls1);
    return addScaled(h, this.mlp.forward(this.norm2.deferred(h)), this.ls2);
  }
}
