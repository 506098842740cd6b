// Checks a benchmark's own output at its own (large) shapes against float64, on samples: a fast
// kernel that is wrong at a size the op tests do not reach must not show up as a speed. Each
// function returns null when the sampled values agree, else a sentence naming the first that does
// not.
import { Rng } from "../src/tensor/rng";

/** Tolerance of an f32 sum of products: relative to the sum of their magnitudes. */
const RELATIVE = 1e-4;

/**
 * C[i, j] = sum_t x(i, t) y(t, j) for an [rows, cols] result with inner size `inner`, at the
 * four corners and `samples` seeded positions.
 */
export function checkProduct(
  got: ArrayLike<number>,
  rows: number,
  cols: number,
  inner: number,
  x: (i: number, t: number) => number,
  y: (t: number, j: number) => number,
  samples = 32,
): string | null {
  const rng = new Rng(7);
  const at: [number, number][] = [
    [0, 0],
    [0, cols - 1],
    [rows - 1, 0],
    [rows - 1, cols - 1],
  ];
  for (let s = 0; s < samples; s++)
    at.push([Math.floor(rng.uniform() * rows), Math.floor(rng.uniform() * cols)]);
  for (const [i, j] of at) {
    let want = 0;
    let magnitude = 0;
    for (let t = 0; t < inner; t++) {
      const p = x(i, t) * y(t, j);
      want += p;
      magnitude += Math.abs(p);
    }
    const value = got[i * cols + j];
    if (!(Math.abs(value - want) <= RELATIVE * magnitude + 1e-6))
      return `wrong result at [${i}, ${j}]: ${value}, float64 gives ${want}`;
  }
  return null;
}

/**
 * Attention of one (batch, head) slice [S, Dh] in float64: the output and, for an upstream
 * gradient of ones, dQ, dK and dV.
 */
function attentionSlice(q: Float64Array, k: Float64Array, v: Float64Array, s: number, d: number) {
  const scale = 1 / Math.sqrt(d);
  const p = new Float64Array(s * s);
  const out = new Float64Array(s * d);
  for (let i = 0; i < s; i++) {
    let max = -Infinity;
    for (let j = 0; j < s; j++) {
      let dot = 0;
      for (let t = 0; t < d; t++) dot += q[i * d + t] * k[j * d + t];
      p[i * s + j] = dot * scale;
      max = Math.max(max, p[i * s + j]);
    }
    let sum = 0;
    for (let j = 0; j < s; j++) {
      p[i * s + j] = Math.exp(p[i * s + j] - max);
      sum += p[i * s + j];
    }
    for (let j = 0; j < s; j++) {
      p[i * s + j] /= sum;
      for (let t = 0; t < d; t++) out[i * d + t] += p[i * s + j] * v[j * d + t];
    }
  }
  // dO = 1: dV = P^T 1, dP = 1 V^T, dS = P * (dP - rowsum(dO * O)), dQ = dS K scale, dK = dS^T Q scale.
  const dq = new Float64Array(s * d);
  const dk = new Float64Array(s * d);
  const dv = new Float64Array(s * d);
  const vSum = new Float64Array(s);
  for (let j = 0; j < s; j++) for (let t = 0; t < d; t++) vSum[j] += v[j * d + t];
  for (let i = 0; i < s; i++) {
    let oSum = 0;
    for (let t = 0; t < d; t++) oSum += out[i * d + t];
    for (let j = 0; j < s; j++) {
      const pij = p[i * s + j];
      const ds = pij * (vSum[j] - oSum) * scale;
      for (let t = 0; t < d; t++) {
        dv[j * d + t] += pij;
        dq[i * d + t] += ds * k[j * d + t];
        dk[j * d + t] += ds * q[i * d + t];
      }
    }
  }
  return { out, dq, dk, dv };
}

/**
 * Compares attention results ([B, H, S, Dh] each, `got` in the order out, dQ, dK, dV, the
 * gradients optional) with float64 on the first and last (batch, head) slices.
 */
export function checkAttention(
  inputs: { q: Float32Array; k: Float32Array; v: Float32Array },
  shape: { batch: number; heads: number; seq: number; dim: number },
  got: ArrayLike<number>[],
): string | null {
  const { batch, heads, seq: s, dim: d } = shape;
  const size = s * d;
  const names = ["output", "dQ", "dK", "dV"];
  for (const slice of [0, batch * heads - 1]) {
    const part = (a: Float32Array) => Float64Array.from(a.subarray(slice * size, (slice + 1) * size));
    const want = attentionSlice(part(inputs.q), part(inputs.k), part(inputs.v), s, d);
    const wants = [want.out, want.dq, want.dk, want.dv];
    for (let g = 0; g < got.length; g++) {
      let largest = 0;
      for (const w of wants[g]) largest = Math.max(largest, Math.abs(w));
      for (let e = 0; e < size; e++) {
        const value = got[g][slice * size + e];
        if (!(Math.abs(value - wants[g][e]) <= 1e-3 * largest + 1e-5))
          return `wrong ${names[g]} in slice ${slice}, entry ${e}: ${value}, float64 gives ${wants[g][e]}`;
      }
    }
  }
  return null;
}
