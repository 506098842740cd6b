// The peers benchmark's ViT forward in float64 (the image encoder as src/tips/vision.ts computes
// it: eval, no masks, no position resize), the weights it reads, and the check of a library's
// final tokens against it.
import type { VisionConfig } from "../src/tips/config";
import { erf } from "./peers-reference";

/** One block's parameters as our store holds them: linear weights [out, in] (PyTorch layout). */
export interface VitBlockHost {
  norm1w: Float32Array;
  norm1b: Float32Array;
  qkvW: Float32Array;
  qkvB: Float32Array;
  projW: Float32Array;
  projB: Float32Array;
  ls1: Float32Array;
  norm2w: Float32Array;
  norm2b: Float32Array;
  fc1W: Float32Array;
  fc1B: Float32Array;
  fc2W: Float32Array;
  fc2B: Float32Array;
  ls2: Float32Array;
}

/** The image [1, 3, S, S] and every parameter: patchW [D, 3 p p], pos [1 + N, D]. */
export interface VitHost {
  image: Float32Array;
  patchW: Float32Array;
  patchB: Float32Array;
  cls: Float32Array;
  register: Float32Array;
  pos: Float32Array;
  blocks: VitBlockHost[];
  normW: Float32Array;
  normB: Float32Array;
}

/** The encoder's parameters read back from our store (names as the official release). */
export function vitHostOf(
  config: VisionConfig,
  image: Float32Array,
  param: (name: string) => Float32Array,
): VitHost {
  const blocks = Array.from({ length: config.depth }, (_, i): VitBlockHost => {
    const p = (suffix: string) => param(`blocks.${i}.${suffix}`);
    return {
      norm1w: p("norm1.weight"),
      norm1b: p("norm1.bias"),
      qkvW: p("attn.qkv.weight"),
      qkvB: p("attn.qkv.bias"),
      projW: p("attn.proj.weight"),
      projB: p("attn.proj.bias"),
      ls1: p("ls1.gamma"),
      norm2w: p("norm2.weight"),
      norm2b: p("norm2.bias"),
      fc1W: p("mlp.fc1.weight"),
      fc1B: p("mlp.fc1.bias"),
      fc2W: p("mlp.fc2.weight"),
      fc2B: p("mlp.fc2.bias"),
      ls2: p("ls2.gamma"),
    };
  });
  return {
    image,
    patchW: param("patch_embed.proj.weight"),
    patchB: param("patch_embed.proj.bias"),
    cls: param("cls_token"),
    register: param("register_tokens"),
    pos: param("pos_embed"),
    blocks,
    normW: param("norm.weight"),
    normB: param("norm.bias"),
  };
}

/** y [rows, out] = x [rows, in] W^T + b, W [out, in]. */
function linear(x: Float64Array, rows: number, w: Float32Array, b: Float32Array): Float64Array {
  const out = b.length;
  const inner = w.length / out;
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < out; o++) {
      let s = b[o];
      for (let i = 0; i < inner; i++) s += x[r * inner + i] * w[o * inner + i];
      y[r * out + o] = s;
    }
  }
  return y;
}

function layerNorm(x: Float64Array, w: Float32Array, b: Float32Array, eps: number): Float64Array {
  const d = w.length;
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[r * d + i];
    mean /= d;
    let variance = 0;
    for (let i = 0; i < d; i++) variance += (x[r * d + i] - mean) ** 2;
    const rstd = 1 / Math.sqrt(variance / d + eps);
    for (let i = 0; i < d; i++) y[r * d + i] = (x[r * d + i] - mean) * rstd * w[i] + b[i];
  }
  return y;
}

/** softmax(q k^T / sqrt(Dh)) v per head, q, k, v read from qkv [T, 3D] (rows [q | k | v], head-major). */
function attention(qkv: Float64Array, tokens: number, d: number, heads: number): Float64Array {
  const dh = d / heads;
  const out = new Float64Array(tokens * d);
  const p = new Float64Array(tokens);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < tokens; i++) {
      let max = -Infinity;
      for (let j = 0; j < tokens; j++) {
        let dot = 0;
        for (let e = 0; e < dh; e++) dot += qkv[i * 3 * d + h * dh + e] * qkv[j * 3 * d + d + h * dh + e];
        p[j] = dot / Math.sqrt(dh);
        max = Math.max(max, p[j]);
      }
      let sum = 0;
      for (let j = 0; j < tokens; j++) {
        p[j] = Math.exp(p[j] - max);
        sum += p[j];
      }
      for (let j = 0; j < tokens; j++)
        for (let e = 0; e < dh; e++)
          out[i * d + h * dh + e] += (p[j] / sum) * qkv[j * 3 * d + 2 * d + h * dh + e];
    }
  }
  return out;
}

/** The final tokens [T = 2 + N, D]: CLS#1, CLS#2, the patches, after the final norm. */
export function vitForwardReference(c: VisionConfig, h: VitHost): Float64Array {
  const { imageSize: s, patchSize: p, width: d } = c;
  const g = s / p;
  const n = g * g;
  const tokens = 2 + n;
  const patches = new Float64Array(n * 3 * p * p);
  for (let gy = 0; gy < g; gy++)
    for (let gx = 0; gx < g; gx++)
      for (let ch = 0; ch < 3; ch++)
        for (let i = 0; i < p; i++)
          for (let j = 0; j < p; j++)
            patches[(gy * g + gx) * 3 * p * p + ch * p * p + i * p + j] =
              h.image[ch * s * s + (gy * p + i) * s + gx * p + j];
  const embedded = linear(patches, n, h.patchW, h.patchB);
  let x = new Float64Array(tokens * d);
  for (let i = 0; i < d; i++) {
    x[i] = h.cls[i] + h.pos[i];
    x[d + i] = h.register[i];
  }
  for (let t = 0; t < n; t++)
    for (let i = 0; i < d; i++) x[(2 + t) * d + i] = embedded[t * d + i] + h.pos[(1 + t) * d + i];
  for (const b of h.blocks) {
    const qkv = linear(layerNorm(x, b.norm1w, b.norm1b, c.eps), tokens, b.qkvW, b.qkvB);
    const a = linear(attention(qkv, tokens, d, c.heads), tokens, b.projW, b.projB);
    const mid = Float64Array.from(x, (v, i) => v + b.ls1[i % d] * a[i]);
    const hidden = linear(layerNorm(mid, b.norm2w, b.norm2b, c.eps), tokens, b.fc1W, b.fc1B);
    for (let i = 0; i < hidden.length; i++) hidden[i] = 0.5 * hidden[i] * (1 + erf(hidden[i] / Math.SQRT2));
    const m = linear(hidden, tokens, b.fc2W, b.fc2B);
    x = Float64Array.from(mid, (v, i) => v + b.ls2[i % d] * m[i]);
  }
  return layerNorm(x, h.normW, h.normB, c.eps);
}

/**
 * Tolerance of the final tokens, relative to the largest of them. At 224 px, float32 through 12
 * blocks lands within 1.6e-6 of float64 in all three libraries (ours 1.6e-6, jax-js 0.9e-6,
 * tfjs 1.6e-6 on SwiftShader): 1e-4 leaves room for a GPU's other summation orders, and still
 * rejects a tanh GELU (2e-4 on the small row) or LayerScale left out (0.9).
 */
export const VIT_TOLERANCE = 1e-4;

/** Compares final tokens with float64: every entry within VIT_TOLERANCE of the largest value. */
export function checkTokens(want: Float64Array, got: ArrayLike<number>): string | null {
  if (got.length !== want.length) return `${got.length} token values, float64 gives ${want.length}`;
  let largest = 0;
  for (const w of want) largest = Math.max(largest, Math.abs(w));
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= VIT_TOLERANCE * largest))
      return `wrong final token value at ${i}: ${got[i]}, float64 gives ${want[i]}`;
  }
  return null;
}
