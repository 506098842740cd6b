import { Tensor } from "../../tensor/tensor";
import { attention, selfAttention } from "../attention";
import type { OpCase } from "../check";

interface Config {
  batch: number;
  heads: number;
  sq: number;
  sk: number;
  headDim: number;
  /** [batch, sk]: 1 real key, 0 padding. */
  mask?: number[];
  maskType?: "u32" | "i32";
  scale?: number;
}

/** float64 softmax(q k^T * scale, masked keys at -inf) v; a row with no real key gives zeros. */
export function refAttention(c: Config) {
  const { batch, heads, sq, sk, headDim: dh, mask } = c;
  const scale = c.scale ?? 1 / Math.sqrt(dh);
  return ([q, k, v]: Float64Array[]) => {
    const out = new Float64Array(batch * heads * sq * dh);
    const s = new Float64Array(sk);
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        const qBase = (b * heads + h) * sq * dh;
        const kBase = (b * heads + h) * sk * dh;
        for (let i = 0; i < sq; i++) {
          let m = Number.NEGATIVE_INFINITY;
          for (let j = 0; j < sk; j++) {
            let dot = 0;
            for (let d = 0; d < dh; d++) dot += q[qBase + i * dh + d] * k[kBase + j * dh + d];
            s[j] = mask?.[b * sk + j] !== 0 ? dot * scale : Number.NEGATIVE_INFINITY;
            m = Math.max(m, s[j]);
          }
          if (m === Number.NEGATIVE_INFINITY) continue;
          let sum = 0;
          for (let j = 0; j < sk; j++) sum += Math.exp(s[j] - m);
          for (let j = 0; j < sk; j++) {
            const p = Math.exp(s[j] - m) / sum;
            for (let d = 0; d < dh; d++) out[qBase + i * dh + d] += p * v[kBase + j * dh + d];
          }
        }
      }
    }
    return out;
  };
}

/** Key mask with the first `real[b]` keys of batch row b real, the rest padding. */
function paddingMask(sk: number, real: number[]): number[] {
  return real.flatMap((n) => Array.from({ length: sk }, (_, j) => (j < n ? 1 : 0)));
}

function attentionCase(name: string, c: Config): OpCase {
  const { batch, heads, sq, sk, headDim } = c;
  return {
    name: `attention ${name}`,
    inputs: [
      { shape: [batch, heads, sq, headDim] },
      { shape: [batch, heads, sk, headDim] },
      { shape: [batch, heads, sk, headDim] },
    ],
    run: ([q, k, v]) => {
      const keyMask = c.mask ? Tensor.from(q.gpu, c.mask, [batch, sk], c.maskType ?? "u32") : undefined;
      return attention(q, k, v, { keyMask, scale: c.scale });
    },
    reference: refAttention(c),
    // Finite differences of the float64 reference are exact enough to hold the gradients to
    // the forward's tolerance.
    gradAtol: 1e-5,
    gradRtol: 1e-4,
  };
}

export const attentionCases: OpCase[] = [
  attentionCase("B=1 H=1 S=1 Dh=8", { batch: 1, heads: 1, sq: 1, sk: 1, headDim: 8 }),
  attentionCase("B=2 H=3 S=5 Dh=16", { batch: 2, heads: 3, sq: 5, sk: 5, headDim: 16 }),
  attentionCase("B=1 H=2 S=51 Dh=16 (2 CLS + 7x7 patches)", {
    batch: 1,
    heads: 2,
    sq: 51,
    sk: 51,
    headDim: 16,
  }),
  attentionCase("B=2 H=1 S=67 Dh=32, last 20 keys of batch row 1 padded", {
    batch: 2,
    heads: 1,
    sq: 67,
    sk: 67,
    headDim: 32,
    mask: paddingMask(67, [67, 47]),
  }),
  // Dh % 4 != 0: the f32 row path, with 4 query rows (and keys) a thread over 2 query blocks.
  attentionCase("B=1 H=1 S=260 Dh=6, f32 rows, 4 a thread, last 9 keys padded", {
    batch: 1,
    heads: 1,
    sq: 260,
    sk: 260,
    headDim: 6,
    mask: paddingMask(260, [251]),
  }),
  attentionCase("B=2 H=1 S=258 Dh=8 (2 CLS + 16x16 patches)", {
    batch: 2,
    heads: 1,
    sq: 258,
    sk: 258,
    headDim: 8,
  }),
  attentionCase("B=3 H=2 S=7 Dh=24, i32 mask: all / 3 / no keys real (zeros)", {
    batch: 3,
    heads: 2,
    sq: 7,
    sk: 7,
    headDim: 24,
    mask: paddingMask(7, [7, 3, 0]),
    maskType: "i32",
  }),
  attentionCase("cross Sq=3 Sk=40 Dh=5, sharp scale 2 over several key blocks", {
    batch: 2,
    heads: 1,
    sq: 3,
    sk: 40,
    headDim: 5,
    scale: 2,
  }),
  attentionCase("B=1 H=2 S=9 Dh=64", { batch: 1, heads: 2, sq: 9, sk: 9, headDim: 64 }),
  // The largest head dim: on a 32 KiB device its key blocks shrink to 16 rows.
  attentionCase("B=1 H=1 S=20 Dh=128", { batch: 1, heads: 1, sq: 20, sk: 20, headDim: 128 }),
];

/** float64 selfAttention: the packed [B, S, 3 * H * Dh] split into heads, attended, merged. */
function refSelfAttention(c: Config) {
  const { batch, heads, sq: s, headDim: dh } = c;
  const width = heads * dh;
  const attend = refAttention(c);
  return ([qkv]: Float64Array[]) => {
    const parts = [0, 1, 2].map((part) => {
      const t = new Float64Array(batch * heads * s * dh);
      for (let b = 0; b < batch; b++)
        for (let h = 0; h < heads; h++)
          for (let i = 0; i < s; i++)
            for (let d = 0; d < dh; d++)
              t[((b * heads + h) * s + i) * dh + d] =
                qkv[(b * s + i) * 3 * width + part * width + h * dh + d];
      return t;
    });
    const o = attend(parts);
    const out = new Float64Array(batch * s * width);
    for (let b = 0; b < batch; b++)
      for (let h = 0; h < heads; h++)
        for (let i = 0; i < s; i++)
          for (let d = 0; d < dh; d++)
            out[(b * s + i) * width + h * dh + d] = o[((b * heads + h) * s + i) * dh + d];
    return out;
  };
}

function selfAttentionCase(name: string, c: Config): OpCase {
  const { batch, heads, sq: s, headDim } = c;
  return {
    name: `selfAttention ${name}`,
    inputs: [{ shape: [batch, s, 3 * heads * headDim] }],
    run: ([qkv]) => {
      const keyMask = c.mask ? Tensor.from(qkv.gpu, c.mask, [batch, s], c.maskType ?? "u32") : undefined;
      return selfAttention(qkv, heads, { keyMask, scale: c.scale });
    },
    reference: refSelfAttention(c),
    gradAtol: 1e-5,
    gradRtol: 1e-4,
  };
}

export const selfAttentionCases: OpCase[] = [
  selfAttentionCase("B=1 H=1 S=1 Dh=8", { batch: 1, heads: 1, sq: 1, sk: 1, headDim: 8 }),
  selfAttentionCase("B=2 H=3 S=5 Dh=7", { batch: 2, heads: 3, sq: 5, sk: 5, headDim: 7 }),
  selfAttentionCase("B=3 H=2 S=67 Dh=12, i32 mask: all / 40 / no keys real", {
    batch: 3,
    heads: 2,
    sq: 67,
    sk: 67,
    headDim: 12,
    mask: paddingMask(67, [67, 40, 0]),
    maskType: "i32",
  }),
];
