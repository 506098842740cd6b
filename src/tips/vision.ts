// The TIPS image encoder (a DINOv2-style ViT, parameter names as the official release):
// patch embedding (a stride-p convolution as patchify + matmul), tokens [CLS#1, CLS#2, patches],
// CLS#1 = cls_token + pos_embed[0], CLS#2 = the single register token (no position), patches +
// the position grid resized to the input's grid; pre-LN blocks; a final norm over all tokens.
// For masked image modelling, masked patch embeddings are replaced by the learned mask_token
// before positions are added.
import type { Gpu } from "../gpu/gpu";
import { VitBlock } from "../nn/block";
import { LayerNorm } from "../nn/layernorm";
import { concat, slice } from "../ops/concat";
import { add, broadcastTo, mul, scale } from "../ops/elementwise";
import { matmul } from "../ops/matmul";
import { patchify } from "../ops/patchify";
import type { ParameterStore } from "../tensor/params";
import type { Rng } from "../tensor/rng";
import { keep } from "../tensor/scope";
import { shapeString, Tensor } from "../tensor/tensor";
import type { VisionConfig } from "./config";
import { resizeMatrix2d } from "./posembed";

/** The encoder's outputs, each sliced out of the final tokens when first read (in the forward's scope). */
export interface VisionOutput {
  /** [B, D] CLS#1 (contrasted with web captions). */
  cls1: Tensor;
  /** [B, D] CLS#2 (contrasted with synthetic captions). */
  cls2: Tensor;
  /** [B, N, D] patch tokens. */
  patches: Tensor;
}

export class VisionEncoder {
  readonly clsToken: Tensor;
  readonly registerTokens: Tensor;
  readonly posEmbed: Tensor;
  readonly maskToken: Tensor;
  readonly patchWeight: Tensor;
  readonly patchBias: Tensor;
  readonly blocks: VitBlock[];
  readonly norm: LayerNorm;
  private resizers = new Map<string, Tensor>();

  constructor(
    readonly gpu: Gpu,
    params: ParameterStore,
    readonly config: VisionConfig,
    rng: Rng,
  ) {
    const { width: d, patchSize: p, posGrid: g } = config;
    const embedBound = 1 / Math.sqrt(3 * p * p);
    this.patchWeight = params.create(
      "patch_embed.proj.weight",
      [d, 3, p, p],
      rng.uniformArray(d * 3 * p * p, -embedBound, embedBound),
    );
    this.patchBias = params.create(
      "patch_embed.proj.bias",
      [d],
      rng.uniformArray(d, -embedBound, embedBound),
    );
    this.clsToken = params.create("cls_token", [1, 1, d], rng.truncNormal(d, 1e-6), { decay: false });
    this.registerTokens = params.create("register_tokens", [1, 1, d], rng.truncNormal(d, 1e-6), {
      decay: false,
    });
    this.posEmbed = params.create("pos_embed", [1, 1 + g * g, d], rng.truncNormal((1 + g * g) * d, 0.02), {
      decay: false,
    });
    this.maskToken = params.create("mask_token", [1, d], new Float32Array(d), { decay: false });
    this.blocks = Array.from(
      { length: config.depth },
      (_, i) =>
        new VitBlock(
          params,
          `blocks.${i}`,
          {
            dim: d,
            heads: config.heads,
            mlpHidden: config.mlpHidden,
            ffn: config.ffn,
            eps: config.eps,
            layerScale: config.layerScale,
            initStd: config.initStd,
          },
          rng,
        ),
    );
    this.norm = new LayerNorm(params, "norm", d, config.eps);
  }

  /** R [gh*gw, G*G] that resizes the position grid to a gh x gw patch grid (cached per size). */
  private resizer(gh: number, gw: number): Tensor {
    const key = `${gh}x${gw}`;
    let r = this.resizers.get(key);
    if (!r) {
      const g = this.config.posGrid;
      r = keep(Tensor.from(this.gpu, resizeMatrix2d(g, g, gh, gw), [gh * gw, g * g]));
      this.resizers.set(key, r);
    }
    return r;
  }

  /**
   * images: [B, 3, H, W] in [0, 1]; masks: [B, N, 1] f32 (1 = replace the patch by mask_token).
   */
  forward(images: Tensor, masks?: Tensor): VisionOutput {
    const { width: d, patchSize: p, posGrid: g } = this.config;
    const [b, , h, w] = images.shape;
    if (images.rank !== 4 || images.shape[1] !== 3 || h % p !== 0 || w % p !== 0) {
      throw new Error(
        `image encoder: images [B, 3, H, W] with H and W multiples of ${p} expected, got ${shapeString(images.shape)}`,
      );
    }
    const gh = h / p;
    const gw = w / p;
    const n = gh * gw;
    let x = matmul(patchify(images, p), this.patchWeight.reshape([d, 3 * p * p]), {
      transB: true,
      bias: this.patchBias,
    });
    if (masks) {
      if (masks.shape[0] !== b || masks.shape[1] !== n) {
        throw new Error(`image encoder: masks [${b}, ${n}, 1] expected, got ${shapeString(masks.shape)}`);
      }
      x = add(mul(x, scale(masks, -1, 1)), mul(masks, this.maskToken));
    }
    const pos = this.posEmbed.reshape([1 + g * g, d]);
    let grid = slice(pos, 0, 1, 1 + g * g);
    if (gh !== g || gw !== g) grid = matmul(this.resizer(gh, gw), grid);
    x = add(x, grid);
    const cls1 = broadcastTo(add(this.clsToken, slice(pos, 0, 0, 1)), [b, 1, d]);
    const cls2 = broadcastTo(this.registerTokens, [b, 1, d]);
    let tokens = concat([cls1, cls2, x], 1);
    for (const block of this.blocks) tokens = block.forward(tokens);
    const out = this.norm.forward(tokens);
    // A caller that reads only the CLS tokens (or only the patches) records no copy, and no
    // gradient pad, for the others.
    return lazyOutput({
      cls1: () => slice(out, 1, 0, 1).reshape([b, d]),
      cls2: () => slice(out, 1, 1, 2).reshape([b, d]),
      patches: () => slice(out, 1, 2, 2 + n),
    });
  }
}

/** A VisionOutput whose fields are made when first read (each once). */
export function lazyOutput(make: { [K in keyof VisionOutput]: () => Tensor }): VisionOutput {
  const made: Partial<VisionOutput> = {};
  const field = (key: keyof VisionOutput) => {
    made[key] ??= make[key]();
    return made[key];
  };
  return {
    get cls1() {
      return field("cls1");
    },
    get cls2() {
      return field("cls2");
    },
    get patches() {
      return field("patches");
    },
  };
}
