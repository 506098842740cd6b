// The TIPS text encoder (parameter names as the official release): token embedding times
// sqrt(D) plus fixed sinusoids [sin | cos]; pre-LN bidirectional blocks (torch
// MultiheadAttention with a key-padding mask; ReLU MLP whose output is zeroed at padding);
// ln_final; mean over real tokens.
import type { Gpu } from "../gpu/gpu";
import { SelfAttention } from "../nn/attention";
import { LayerNorm } from "../nn/layernorm";
import { Mlp } from "../nn/mlp";
import { add, div, mul, scale } from "../ops/elementwise";
import { embedding } from "../ops/embedding";
import { sum } from "../ops/reduce";
import type { ParameterStore } from "../tensor/params";
import type { Rng } from "../tensor/rng";
import { keep } from "../tensor/scope";
import { shapeString, Tensor } from "../tensor/tensor";
import type { TextConfig } from "./config";

/** The official fixed position signal: [L, D], halves sin(p * inv_i) | cos(p * inv_i). */
export function sinusoids(length: number, dim: number): Float32Array {
  const half = Math.floor(dim / 2);
  const increment = Math.log(10000) / Math.max(half - 1, 1);
  const out = new Float32Array(length * dim);
  for (let p = 0; p < length; p++) {
    for (let i = 0; i < half; i++) {
      const t = p * Math.exp(-i * increment);
      out[p * dim + i] = Math.sin(t);
      out[p * dim + half + i] = Math.cos(t);
    }
  }
  return out;
}

/** Token ids [B, L] (0 = padding) -> the masks the encoder needs, made on the CPU. */
export interface TextBatch {
  /** [B, L] i32 token ids. */
  ids: Tensor;
  /** [B, L] u32, 1 for real tokens (attention key mask). */
  keyMask: Tensor;
  /** [B, L, 1] f32, 1 for real tokens. */
  tokenMask: Tensor;
  /** [B, 1] f32: number of real tokens + 1e-8 (the official pooling's epsilon). */
  counts: Tensor;
}

export function textBatch(gpu: Gpu, ids: Int32Array, batch: number, length: number): TextBatch {
  if (ids.length !== batch * length)
    throw new Error(`textBatch: ${ids.length} ids for [${batch}, ${length}]`);
  const real = Uint32Array.from(ids, (id) => (id === 0 ? 0 : 1));
  const counts = new Float32Array(batch);
  for (let b = 0; b < batch; b++) {
    for (let l = 0; l < length; l++) counts[b] += real[b * length + l];
    counts[b] += 1e-8;
  }
  return {
    ids: Tensor.from(gpu, ids, [batch, length], "i32"),
    keyMask: Tensor.from(gpu, real, [batch, length], "u32"),
    tokenMask: Tensor.from(gpu, Float32Array.from(real), [batch, length, 1]),
    counts: Tensor.from(gpu, counts, [batch, 1]),
  };
}

/**
 * Both captions of each image as one text batch of 2B: the web captions in rows 0..B-1, the
 * synthetic ones in rows B..2B-1, so one text pass reads both.
 */
export function captionsBatch(
  gpu: Gpu,
  web: Int32Array,
  syn: Int32Array,
  batch: number,
  length: number,
): TextBatch {
  const ids = new Int32Array(2 * batch * length);
  ids.set(web);
  ids.set(syn, batch * length);
  return textBatch(gpu, ids, 2 * batch, length);
}

export interface TextOutput {
  /** [B, L, D] final-normed token features, zero at padding. */
  tokens: Tensor;
  /** [B, D] their mean over real tokens (the caption embedding). */
  pooled: Tensor;
}

class TextBlock {
  readonly ln1: LayerNorm;
  readonly attn: SelfAttention;
  readonly ln2: LayerNorm;
  readonly mlp: Mlp;

  constructor(params: ParameterStore, name: string, c: TextConfig, rng: Rng) {
    this.ln1 = new LayerNorm(params, `${name}.ln_1`, c.width, c.eps);
    this.attn = new SelfAttention(
      params,
      `${name}.attn`,
      c.width,
      c.heads,
      rng,
      {},
      {
        qkv: { weightName: `${name}.attn.in_proj_weight`, biasName: `${name}.attn.in_proj_bias` },
        proj: `${name}.attn.out_proj`,
      },
    );
    this.ln2 = new LayerNorm(params, `${name}.ln_2`, c.width, c.eps);
    this.mlp = new Mlp(
      params,
      `${name}.mlp`,
      { input: c.width, hidden: c.mlpHidden, output: c.width },
      "relu",
      rng,
      {},
      { fc1: `${name}.mlp.c_fc`, fc2: `${name}.mlp.c_proj` },
    );
  }

  forward(x: Tensor, batch: TextBatch): Tensor {
    // The norms are deferred to the products that read them (see LayerNorm.deferred).
    const h = add(x, this.attn.forward(this.ln1.deferred(x), batch.keyMask));
    // The official block also zeroes the hidden layer at padding; the output's mask alone gives
    // the same values and gradients, since it zeroes the padding rows and with them everything
    // those rows' hidden values reach.
    return add(h, mul(this.mlp.forward(this.ln2.deferred(h)), batch.tokenMask));
  }
}

/** The text encoder tower (named so as not to hide the platform's TextEncoder). */
export class TextTower {
  readonly tokenEmbedding: Tensor;
  readonly blocks: TextBlock[];
  readonly lnFinal: LayerNorm;
  private positions = new Map<number, Tensor>();

  constructor(
    readonly gpu: Gpu,
    params: ParameterStore,
    readonly config: TextConfig,
    rng: Rng,
  ) {
    const d = config.width;
    this.tokenEmbedding = params.create(
      "token_embedding.weight",
      [config.vocabSize, d],
      rng.truncNormal(config.vocabSize * d, 0.02),
      {
        decay: false,
      },
    );
    this.blocks = Array.from(
      { length: config.depth },
      (_, i) => new TextBlock(params, `transformer.resblocks.${i}`, config, rng),
    );
    this.lnFinal = new LayerNorm(params, "ln_final", d, config.eps);
  }

  private position(length: number): Tensor {
    let t = this.positions.get(length);
    if (!t) {
      t = keep(Tensor.from(this.gpu, sinusoids(length, this.config.width), [length, this.config.width]));
      this.positions.set(length, t);
    }
    return t;
  }

  /** Returns [B, D]: the mean of the final-normed token features over real tokens. */
  forward(batch: TextBatch): Tensor {
    return this.forwardTokens(batch).pooled;
  }

  /**
   * The final-normed features of every token, [B, L, D] (zero at padding), for fine-grained
   * losses such as SPARC, and their mean over real tokens, [B, D].
   */
  forwardTokens(batch: TextBatch): TextOutput {
    const [b, length] = batch.ids.shape;
    if (batch.ids.rank !== 2)
      throw new Error(`text encoder: ids [B, L] expected, got ${shapeString(batch.ids.shape)}`);
    let x = add(
      scale(embedding(this.tokenEmbedding, batch.ids), Math.sqrt(this.config.width)),
      this.position(length),
    );
    for (const block of this.blocks) x = block.forward(x, batch);
    const tokens = mul(this.lnFinal.forward(x), batch.tokenMask);
    return { tokens, pooled: div(sum(tokens, 1), batch.counts.reshape([b, 1])) };
  }
}
