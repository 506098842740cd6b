import type { OpCase } from "../check";
import { mul } from "../elementwise";
import { sparcContrast, sparcLoss, sparcWeights } from "../loss_sparc";

/** float64 SPARC alignment weights of each row of P similarities. */
export function refSparcWeights(sim: Float64Array, p: number): Float64Array {
  const out = new Float64Array(sim.length);
  for (let base = 0; base < sim.length; base += p) {
    const row = sim.subarray(base, base + p);
    const m = Math.min(...row);
    const r = Math.max(...row) - m;
    if (r <= 0) {
      out.fill(1 / p, base, base + p);
      continue;
    }
    const u = Array.from(row, (s) => ((s - m) / r >= 1 / p ? (s - m) / r : 0));
    const z = u.reduce((a, v) => a + v, 0);
    for (let j = 0; j < p; j++) out[base + j] = u[j] / z;
  }
  return out;
}

function lse(xs: number[]): number {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0));
}

/** float64 per-sample symmetric contrast of fine [B, L, L] over the real tokens of mask [B, L]. */
export function refSparcContrast(fine: Float64Array, mask: Float64Array, b: number, l: number, tau: number) {
  let total = 0;
  for (let i = 0; i < b; i++) {
    const real = [...Array(l).keys()].filter((t) => mask[i * l + t] > 0);
    const f = (r: number, c: number) => fine[(i * l + r) * l + c] / tau;
    let sample = 0;
    for (const r of real) {
      sample += lse(real.map((c) => f(r, c))) + lse(real.map((c) => f(c, r))) - 2 * f(r, r);
    }
    if (real.length) total += sample / (2 * real.length);
  }
  return total / b;
}

function normalizeRows(x: Float64Array, d: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += d) {
    let n = 0;
    for (let k = 0; k < d; k++) n += x[base + k] ** 2;
    const scale = 1 / Math.max(Math.sqrt(n), 1e-3);
    for (let k = 0; k < d; k++) out[base + k] = x[base + k] * scale;
  }
  return out;
}

/** float64 SPARC loss: tokens [B, L, D], patches [B, P, D], mask [B, L]. */
export function refSparcLoss(
  tokens: Float64Array,
  patches: Float64Array,
  mask: Float64Array,
  shape: { b: number; l: number; p: number; d: number },
  tau: number,
): number {
  const { b, l, p, d } = shape;
  const t = normalizeRows(tokens, d);
  const v = normalizeRows(patches, d);
  const fine = new Float64Array(b * l * l);
  for (let i = 0; i < b; i++) {
    const sim = new Float64Array(l * p);
    for (let r = 0; r < l; r++)
      for (let j = 0; j < p; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += t[(i * l + r) * d + k] * v[(i * p + j) * d + k];
        sim[r * p + j] = s;
      }
    const a = refSparcWeights(sim, p);
    const grouped = new Float64Array(l * d);
    for (let r = 0; r < l; r++)
      for (let j = 0; j < p; j++)
        for (let k = 0; k < d; k++) grouped[r * d + k] += a[r * p + j] * v[(i * p + j) * d + k];
    const g = normalizeRows(grouped, d);
    for (let r = 0; r < l; r++)
      for (let c = 0; c < l; c++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += t[(i * l + r) * d + k] * g[c * d + k];
        fine[(i * l + r) * l + c] = s;
      }
  }
  return refSparcContrast(fine, mask, b, l, tau);
}

const ROW_MASK = { int: 2 } as const;

export const sparcCases: OpCase[] = [
  // Rows of P similarities; workgroups of 32 threads up to P = 512, 64 at P = 600.
  ...[
    [1, 1],
    [7, 51],
    [3, 5, 17],
    [2, 4, 300],
    [5, 600],
  ].map(
    (shape): OpCase => ({
      name: `sparc weights ${shape.join("x")}`,
      inputs: [{ shape }],
      run: ([sim]) => sparcWeights(sim),
      reference: ([sim]) => refSparcWeights(sim, shape[shape.length - 1]),
    }),
  ),
  {
    // Rows zeroed by a 0/1 mask are constant (padding tokens): uniform weights, no gradient.
    name: "sparc weights 9x13 with constant rows",
    inputs: [{ shape: [9, 13] }, { shape: [9, 1], values: ROW_MASK, grad: false }],
    run: ([sim, keep]) => sparcWeights(mul(sim, keep)),
    reference: ([sim, keep]) =>
      refSparcWeights(
        sim.map((s, i) => s * keep[Math.floor(i / 13)]),
        13,
      ),
  },
  ...[
    [1, 1],
    [3, 7],
    [2, 33],
    [4, 64],
  ].map(
    ([b, l]): OpCase => ({
      name: `sparc contrast B=${b} L=${l} (random padding)`,
      inputs: [{ shape: [b, l, l] }, { shape: [b, l], values: ROW_MASK, grad: false }],
      run: ([fine, mask]) => sparcContrast(fine, mask, 0.5),
      reference: ([fine, mask]) => Float64Array.of(refSparcContrast(fine, mask, b, l, 0.5)),
      atol: 1e-4,
    }),
  ),
  ...[
    { b: 2, l: 7, p: 51, d: 16 },
    { b: 3, l: 8, p: 16, d: 32 },
    { b: 1, l: 5, p: 3, d: 5 },
  ].map(
    (s): OpCase => ({
      name: `sparc loss B=${s.b}, ${s.l} tokens x ${s.p} patches, D=${s.d}`,
      inputs: [
        { shape: [s.b, s.l, s.d] },
        { shape: [s.b, s.p, s.d] },
        { shape: [s.b, s.l, 1], values: ROW_MASK, grad: false },
      ],
      run: ([tokens, patches, mask]) => sparcLoss(tokens, patches, mask, 0.1),
      reference: ([tokens, patches, mask]) => Float64Array.of(refSparcLoss(tokens, patches, mask, s, 0.1)),
      atol: 1e-4,
      rtol: 1e-3,
    }),
  ),
];
