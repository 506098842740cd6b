// A float64 TypeScript reference of the whole TIPS model and its combined loss, written
// independently of the engine (plain loops over row-major arrays, parameters by their official
// names), so that the GPU model's forward, loss terms and gradients can be checked against it.

import { erf64 } from "../../src/ops/checks/gelu";
import { refRilsLoss } from "../../src/ops/checks/loss_rils";
import { refSparcLoss } from "../../src/ops/checks/loss_sparc";
import { refSinkhorn } from "../../src/ops/checks/sinkhorn";
import type { TipsConfig } from "../../src/tips/config";
import { resizeMatrix2d } from "../../src/tips/posembed";
import { sinusoids } from "../../src/tips/text";

export type Params = Map<string, Float64Array>;

/** x [n, din] @ W^T (W [dout, din]) + b. */
function linear(x: Float64Array, n: number, p: Params, name: string, din: number, dout: number) {
  const w = p.get(`${name}.weight`)!;
  const b = p.get(`${name}.bias`);
  const out = new Float64Array(n * dout);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < dout; o++) {
      let s = b ? b[o] : 0;
      for (let k = 0; k < din; k++) s += x[i * din + k] * w[o * din + k];
      out[i * dout + o] = s;
    }
  }
  return out;
}

function layerNorm(x: Float64Array, n: number, d: number, p: Params, name: string, eps: number) {
  const g = p.get(`${name}.weight`)!;
  const b = p.get(`${name}.bias`)!;
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let mean = 0;
    for (let k = 0; k < d; k++) mean += x[i * d + k] / d;
    let variance = 0;
    for (let k = 0; k < d; k++) variance += (x[i * d + k] - mean) ** 2 / d;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let k = 0; k < d; k++) out[i * d + k] = (x[i * d + k] - mean) * inv * g[k] + b[k];
  }
  return out;
}

const gelu = (z: number) => 0.5 * z * (1 + erf64(z / Math.SQRT2));
const map = (x: Float64Array, f: (v: number) => number) => x.map(f);

function addInPlace(x: Float64Array, y: Float64Array, gamma?: Float64Array, mask?: Float64Array) {
  const d = gamma?.length ?? 1;
  for (let i = 0; i < x.length; i++) {
    const m = mask ? mask[Math.floor(i / (x.length / mask.length))] : 1;
    x[i] += y[i] * (gamma ? gamma[i % d] : 1) * m;
  }
}

/** Multi-head attention of one sequence from its projections qkv [s, 3d] (q | k | v per row). */
function attention(s: number, d: number, heads: number, qkv: Float64Array, keyMask?: number[]) {
  const dh = d / heads;
  const out = new Float64Array(s * d);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < s; i++) {
      const scores = new Float64Array(s).fill(-Infinity);
      for (let j = 0; j < s; j++) {
        if (keyMask && !keyMask[j]) continue;
        let dot = 0;
        for (let t = 0; t < dh; t++) dot += qkv[i * 3 * d + h * dh + t] * qkv[j * 3 * d + d + h * dh + t];
        scores[j] = dot / Math.sqrt(dh);
      }
      const m = Math.max(...scores);
      if (m === -Infinity) continue; // every key masked: zeros
      let z = 0;
      for (let j = 0; j < s; j++) z += Math.exp(scores[j] - m);
      for (let j = 0; j < s; j++) {
        const a = Math.exp(scores[j] - m) / z;
        if (a === 0) continue;
        for (let t = 0; t < dh; t++) out[i * d + h * dh + t] += a * qkv[j * 3 * d + 2 * d + h * dh + t];
      }
    }
  }
  return out;
}

function l2Normalize(x: Float64Array, n: number, d: number, eps = 1e-3) {
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let k = 0; k < d; k++) ss += x[i * d + k] ** 2;
    const norm = Math.max(Math.sqrt(ss), eps);
    for (let k = 0; k < d; k++) out[i * d + k] = x[i * d + k] / norm;
  }
  return out;
}

export interface VisionRef {
  cls1: Float64Array;
  cls2: Float64Array;
  /** [B*N, D] */
  patches: Float64Array;
  n: number;
}

/** images [B, 3, H, W]; masks [B*N] (1 = masked). */
export function visionRef(
  c: TipsConfig,
  p: Params,
  images: Float64Array,
  b: number,
  size: number,
  masks?: Float64Array,
): VisionRef {
  const { width: d, patchSize: ps, posGrid: g, heads, mlpHidden, eps } = c.vision;
  const gs = size / ps;
  const n = gs * gs;
  const s = n + 2;
  const pos = p.get("pos_embed")!;
  const resize = gs === g ? null : resizeMatrix2d(g, g, gs, gs);
  const w = p.get("patch_embed.proj.weight")!;
  const bias = p.get("patch_embed.proj.bias")!;
  const mask = p.get("mask_token")!;
  const cls1 = new Float64Array(b * d);
  const cls2 = new Float64Array(b * d);
  const patches = new Float64Array(b * n * d);
  for (let img = 0; img < b; img++) {
    let x = new Float64Array(s * d);
    for (let k = 0; k < d; k++) {
      x[k] = p.get("cls_token")![k] + pos[k];
      x[d + k] = p.get("register_tokens")![k];
    }
    for (let py = 0; py < gs; py++) {
      for (let px = 0; px < gs; px++) {
        const t = py * gs + px;
        const row = (2 + t) * d;
        const masked = masks ? masks[img * n + t] : 0;
        for (let o = 0; o < d; o++) {
          let v = bias[o];
          for (let ch = 0; ch < 3; ch++)
            for (let i = 0; i < ps; i++)
              for (let j = 0; j < ps; j++)
                v +=
                  w[((o * 3 + ch) * ps + i) * ps + j] *
                  images[((img * 3 + ch) * size + py * ps + i) * size + px * ps + j];
          v = masked ? mask[o] : v;
          let e = 0;
          if (resize) for (let q = 0; q < g * g; q++) e += resize[t * g * g + q] * pos[(1 + q) * d + o];
          else e = pos[(1 + t) * d + o];
          x[row + o] = v + e;
        }
      }
    }
    for (let l = 0; l < c.vision.depth; l++) {
      const name = `blocks.${l}`;
      const qkv = linear(layerNorm(x, s, d, p, `${name}.norm1`, eps), s, p, `${name}.attn.qkv`, d, 3 * d);
      const a = linear(attention(s, d, heads, qkv), s, p, `${name}.attn.proj`, d, d);
      addInPlace(x, a, p.get(`${name}.ls1.gamma`));
      const h = map(
        linear(layerNorm(x, s, d, p, `${name}.norm2`, eps), s, p, `${name}.mlp.fc1`, d, mlpHidden),
        gelu,
      );
      addInPlace(x, linear(h, s, p, `${name}.mlp.fc2`, mlpHidden, d), p.get(`${name}.ls2.gamma`));
    }
    x = layerNorm(x, s, d, p, "norm", eps);
    cls1.set(x.subarray(0, d), img * d);
    cls2.set(x.subarray(d, 2 * d), img * d);
    patches.set(x.subarray(2 * d), img * n * d);
  }
  return { cls1, cls2, patches, n };
}

/** ids [B, L] (0 = padding) -> [B, D] pooled text embeddings. */
export function textRef(c: TipsConfig, p: Params, ids: Int32Array, b: number): Float64Array {
  return textTokensRef(c, p, ids, b).pooled;
}

/** ids [B, L] -> final-normed token features [B, L, D] (zero at padding) and their mean. */
export function textTokensRef(
  c: TipsConfig,
  p: Params,
  ids: Int32Array,
  b: number,
): { tokens: Float64Array; pooled: Float64Array } {
  const { width: d, heads, mlpHidden, eps } = c.text;
  const length = ids.length / b;
  const pos = sinusoids(length, d);
  const emb = p.get("token_embedding.weight")!;
  const out = new Float64Array(b * d);
  const tokens = new Float64Array(b * length * d);
  for (let i = 0; i < b; i++) {
    const real = Array.from(ids.subarray(i * length, (i + 1) * length), (id) => (id === 0 ? 0 : 1));
    const tokenMask = Float64Array.from(real);
    let x = new Float64Array(length * d);
    for (let t = 0; t < length; t++)
      for (let k = 0; k < d; k++)
        x[t * d + k] = emb[ids[i * length + t] * d + k] * Math.sqrt(d) + pos[t * d + k];
    for (let l = 0; l < c.text.depth; l++) {
      const name = `transformer.resblocks.${l}`;
      const normed = layerNorm(x, length, d, p, `${name}.ln_1`, eps);
      const w = p.get(`${name}.attn.in_proj_weight`)!;
      const bias = p.get(`${name}.attn.in_proj_bias`)!;
      const qkv = linear(
        normed,
        length,
        new Map([
          ["q.weight", w],
          ["q.bias", bias],
        ]),
        "q",
        d,
        3 * d,
      );
      addInPlace(x, linear(attention(length, d, heads, qkv, real), length, p, `${name}.attn.out_proj`, d, d));
      const h = map(
        linear(layerNorm(x, length, d, p, `${name}.ln_2`, eps), length, p, `${name}.mlp.c_fc`, d, mlpHidden),
        (v) => Math.max(v, 0),
      );
      addInPlace(x, linear(h, length, p, `${name}.mlp.c_proj`, mlpHidden, d), undefined, tokenMask);
    }
    x = layerNorm(x, length, d, p, "ln_final", eps);
    const count = real.reduce((a: number, v) => a + v, 0) + 1e-8;
    for (let t = 0; t < length; t++)
      for (let k = 0; k < d; k++) {
        tokens[(i * length + t) * d + k] = x[t * d + k] * tokenMask[t];
        out[i * d + k] += (x[t * d + k] * tokenMask[t]) / count;
      }
  }
  return { tokens, pooled: out };
}

/** DINO/iBOT head: x [n, D] -> [n, K] prototype logits. */
export function headRef(c: TipsConfig, p: Params, name: string, x: Float64Array, n: number): Float64Array {
  const { hidden, bottleneck, prototypes: k } = c.head;
  const d = c.vision.width;
  let h = map(linear(x, n, p, `${name}.mlp.0`, d, hidden), gelu);
  h = map(linear(h, n, p, `${name}.mlp.2`, hidden, hidden), gelu);
  const z = l2Normalize(linear(h, n, p, `${name}.mlp.4`, hidden, bottleneck), n, bottleneck, 1e-12);
  const protos = l2Normalize(p.get(`${name}.last_layer.weight`)!, k, bottleneck, 1e-12);
  return linear(z, n, new Map([["w.weight", protos]]), "w", bottleneck, k);
}

function clip(image: Float64Array, text: Float64Array, b: number, d: number, logScale: number): number {
  const u = l2Normalize(image, b, d);
  const v = l2Normalize(text, b, d);
  const t = Math.exp(logScale);
  const sim = (i: number, j: number) => {
    let s = 0;
    for (let k = 0; k < d; k++) s += u[i * d + k] * v[j * d + k];
    return t * s;
  };
  const lse = (xs: number[]) => {
    const m = Math.max(...xs);
    return m + Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0));
  };
  let total = 0;
  for (let i = 0; i < b; i++) {
    const row = Array.from({ length: b }, (_, j) => sim(i, j));
    const col = Array.from({ length: b }, (_, j) => sim(j, i));
    total += lse(row) + lse(col) - 2 * sim(i, i);
  }
  return total / (2 * b);
}

/** Per-row -sum softmax((t - centre)/tauT) * log softmax(s/tauS); student row r vs teacher r mod T. */
function softCe(
  s: Float64Array,
  t: Float64Array,
  rows: number,
  teacherRows: number,
  k: number,
  tauS: number,
  tauT: number,
) {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const tl = Array.from({ length: k }, (_, j) => t[(r % teacherRows) * k + j] / tauT);
    const sl = Array.from({ length: k }, (_, j) => s[r * k + j] / tauS);
    const mt = Math.max(...tl);
    const ms = Math.max(...sl);
    const zt = tl.reduce((a, v) => a + Math.exp(v - mt), 0);
    const lseS = ms + Math.log(sl.reduce((a, v) => a + Math.exp(v - ms), 0));
    for (let j = 0; j < k; j++) out[r] -= (Math.exp(tl[j] - mt) / zt) * (sl[j] - lseS);
  }
  return out;
}

export interface BatchRef {
  b: number;
  /** [B, 3, S, S] */
  global: Float64Array;
  /** [M*B, 3, s, s], crop-major */
  local: Float64Array;
  /** [B*N] */
  masks: Float64Array;
  mimWeights: Float64Array;
  /** [B*N] mean over each image's masked patches (RILS) */
  maskedWeights: Float64Array;
  web: Int32Array;
  syn: Int32Array;
}

export interface LossRef {
  web: number;
  syn: number;
  dino: number;
  mim: number;
  sparc: number;
  rils: number;
  total: number;
}

/**
 * Teacher targets as logits for softCe at temperature 1: log of the Sinkhorn-Knopp targets, or
 * the logits over tau (a zero running centre).
 */
function targets(t: Float64Array, rows: number, k: number, tau: number, centring: "sinkhorn" | "centre") {
  return centring === "sinkhorn" ? refSinkhorn(rows, k, tau, 3)([t]) : t.map((v) => v / tau);
}

/**
 * The fine-grained terms, both on the synthetic caption. RILS's teacher side has no gradient: a
 * finite-difference check passes the sentence embeddings of the unperturbed parameters as
 * `rilsTeacherSentences`, so that only the student side moves.
 */
export interface FineRef {
  sparcTemperature: number;
  rilsTau: { student: number; teacher: number };
  rilsTeacherSentences?: Float64Array;
}

/**
 * The combined loss, as tipsLoss with DEFAULT_LOSS (zero running centres under "centre"
 * centring): the four TIPS terms with weight 1, and SPARC and RILS with weight 1 when `fine` is
 * given (else 0).
 */
export function tipsLossRef(
  c: TipsConfig,
  student: Params,
  teacher: Params,
  x: BatchRef,
  centring: "sinkhorn" | "centre" = "sinkhorn",
  fine?: FineRef,
  temps = { student: 0.1, teacher: 0.04, teacherPatch: 0.07 },
): LossRef {
  const { b } = x;
  const d = c.vision.width;
  const k = c.head.prototypes;
  // CLIP and SPARC read the unmasked global crop, iBOT and RILS the masked one.
  const u = visionRef(c, student, x.global, b, c.vision.imageSize);
  const s = visionRef(c, student, x.global, b, c.vision.imageSize, x.masks);
  const logScale = student.get("logit_scale")![0];
  const synText = textTokensRef(c, student, x.syn, b);
  const web = clip(u.cls1, textRef(c, student, x.web, b), b, d, logScale);
  const syn = clip(u.cls2, synText.pooled, b, d, logScale);
  const t = visionRef(c, teacher, x.global, b, c.vision.imageSize);
  const m = c.views.localCrops;
  const local = visionRef(c, student, x.local, m * b, c.views.localSize);
  const dinoCe = softCe(
    headRef(c, student, "dino_head", local.cls1, m * b),
    targets(headRef(c, teacher, "dino_head", t.cls1, b), b, k, temps.teacher, centring),
    m * b,
    b,
    k,
    temps.student,
    1,
  );
  const dino = dinoCe.reduce((a, v) => a + v, 0) / (m * b);
  const rows = b * s.n;
  const mimCe = softCe(
    headRef(c, student, "ibot_head", s.patches, rows),
    targets(headRef(c, teacher, "ibot_head", t.patches, rows), rows, k, temps.teacherPatch, centring),
    rows,
    rows,
    k,
    temps.student,
    1,
  );
  const mim = mimCe.reduce((a, v, i) => a + v * x.mimWeights[i], 0);
  let sparc = 0;
  let rils = 0;
  if (fine) {
    const length = x.syn.length / b;
    const mask = Float64Array.from(x.syn, (id) => (id === 0 ? 0 : 1));
    sparc = refSparcLoss(synText.tokens, u.patches, mask, { b, l: length, p: s.n, d }, fine.sparcTemperature);
    const sentences = synText.pooled;
    const teacherSentences = l2Normalize(fine.rilsTeacherSentences ?? sentences, b, d);
    const tp = l2Normalize(t.patches, rows, d);
    const rilsTargets = new Float64Array(rows * b);
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < b; j++)
        for (let q = 0; q < d; q++) rilsTargets[i * b + j] += tp[i * d + q] * teacherSentences[j * d + q];
    rils = refRilsLoss(s.patches, rilsTargets, sentences, x.maskedWeights, d, fine.rilsTau);
  }
  return { web, syn, dino, mim, sparc, rils, total: web + syn + dino + mim + sparc + rils };
}
