import { numel } from "../../tensor/tensor";
import type { OpCase } from "../check";
import { layerNormDeferred } from "../layernorm";
import { type Activation, matmul } from "../matmul";
import { mlp } from "../mlp";
import { erf64 } from "./gelu";
import { refLayerNorm } from "./layernorm";

interface Config {
  /** Batch axes of a and of b ([] for a 2-D operand shared by every batch). */
  aBatch?: number[];
  bBatch?: number[];
  m: number;
  k: number;
  n: number;
  transA?: boolean;
  transB?: boolean;
  bias?: boolean;
  activation?: Activation;
  tile?: 64 | 128;
}

export function activate64(activation: Activation, z: number): number {
  if (activation === "relu") return Math.max(z, 0);
  if (activation === "gelu") return 0.5 * z * (1 + erf64(z / Math.SQRT2));
  return z;
}

/** float64 act(op(a) op(b) + bias) over row-major arrays. */
export function refMatmul(c: Config) {
  const { m, k, n, transA = false, transB = false, activation = "none" } = c;
  const aBatch = c.aBatch ?? [];
  const bBatch = c.bBatch ?? [];
  const batches = numel(aBatch.length ? aBatch : bBatch);
  return ([a, b, bias]: Float64Array[]) => {
    const out = new Float64Array(batches * m * n);
    for (let z = 0; z < batches; z++) {
      const aOff = aBatch.length ? z * m * k : 0;
      const bOff = bBatch.length ? z * k * n : 0;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = c.bias ? bias[j] : 0;
          for (let t = 0; t < k; t++) {
            const av = transA ? a[aOff + t * m + i] : a[aOff + i * k + t];
            const bv = transB ? b[bOff + j * k + t] : b[bOff + t * n + j];
            s += av * bv;
          }
          out[(z * m + i) * n + j] = activate64(activation, s);
        }
      }
    }
    return out;
  };
}

function matmulCase(c: Config): OpCase {
  const { m, k, n, transA = false, transB = false, activation = "none" } = c;
  const aBatch = c.aBatch ?? [];
  const bBatch = c.bBatch ?? [];
  const show = (batch: number[], rows: number, cols: number, t: boolean) =>
    `[${[...batch, rows, cols].join(",")}]${t ? "^T" : ""}`;
  const name =
    `M=${m} K=${k} N=${n}: ${show(aBatch, transA ? k : m, transA ? m : k, transA)} @ ` +
    `${show(bBatch, transB ? n : k, transB ? k : n, transB)}` +
    `${c.bias ? " + bias" : ""}${activation !== "none" ? ` ${activation}` : ""}${c.tile ? ` tile ${c.tile}` : ""}`;
  return {
    name,
    inputs: [
      { shape: [...aBatch, ...(transA ? [k, m] : [m, k])] },
      { shape: [...bBatch, ...(transB ? [n, k] : [k, n])] },
      ...(c.bias ? [{ shape: [n] }] : []),
    ],
    run: ([a, b, bias]) => matmul(a, b, { transA, transB, bias, activation, tile: c.tile }),
    reference: refMatmul(c),
    atol: 1e-4,
    rtol: 1e-4,
  };
}

const transposes: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

export const matmulCases: OpCase[] = [
  matmulCase({ m: 1, k: 1, n: 1 }),
  matmulCase({ m: 3, k: 5, n: 7 }),
  matmulCase({ m: 67, k: 129, n: 33 }),
  matmulCase({ m: 67, k: 129, n: 33, tile: 128 }),
  matmulCase({ m: 131, k: 20, n: 130, tile: 128 }),
  matmulCase({ aBatch: [3], bBatch: [3], m: 13, k: 9, n: 17 }),
  matmulCase({ aBatch: [2, 3], bBatch: [2, 3], m: 5, k: 7, n: 4 }),
  ...transposes.map(([transA, transB]) =>
    matmulCase({ aBatch: [2], bBatch: [2], m: 19, k: 21, n: 23, transA, transB }),
  ),
  ...transposes.map(([transA, transB]) =>
    matmulCase({ aBatch: [2], bBatch: [2], m: 19, k: 37, n: 70, transA, transB, tile: 128 }),
  ),
  // Contiguous axes of multiples of 4: both operands read as vec4 quads (the f32 quads above),
  // with partial tiles at the edges.
  ...[false, true].map((t) =>
    matmulCase({ aBatch: [2], bBatch: [2], m: 20, k: 36, n: 68, transA: t, transB: t }),
  ),
  // A 2-D b shared by every batch of a (weights), and a 2-D a shared by every batch of b.
  ...transposes.map(([transA, transB]) => matmulCase({ aBatch: [3], m: 11, k: 20, n: 13, transA, transB })),
  ...transposes.map(([transA, transB]) => matmulCase({ bBatch: [3], m: 11, k: 20, n: 13, transA, transB })),
  matmulCase({ aBatch: [2], m: 9, k: 20, n: 13, transB: true, bias: true }),
  // A Linear's bias gradient summed inside its weight gradient's product, over several row and
  // column tiles and K slabs of it (dW [70, 65] from 69 rows).
  matmulCase({ aBatch: [3], m: 23, k: 65, n: 70, transB: true, bias: true }),
  matmulCase({ aBatch: [2], m: 9, k: 20, n: 13, transB: true, bias: true, activation: "relu" }),
  matmulCase({ aBatch: [2], m: 9, k: 20, n: 13, transB: true, bias: true, activation: "gelu" }),
  matmulCase({ aBatch: [3], bBatch: [3], m: 7, k: 5, n: 6, transA: true, activation: "gelu" }),
  matmulCase({ m: 70, k: 33, n: 67, bias: true, activation: "gelu", tile: 128 }),
  matmulCase({ m: 3, k: 5, n: 7, transA: true, transB: true, bias: true, activation: "relu" }),
  // The direct kernel's shapes (every contiguous axis a multiple of 4, vec4 quads): rows and
  // columns that end inside a thread's 8 x 8 block and a workgroup's 32 x 128, each transpose.
  ...transposes.map(([transA, transB]) =>
    matmulCase({ aBatch: [2], bBatch: [2], m: 20, k: 12, n: 44, transA, transB }),
  ),
  matmulCase({ m: 70, k: 36, n: 132, bias: true, activation: "gelu" }),
  // A Linear's weight and bias gradients in one product (row sums) from 69 rows, K = 64.
  matmulCase({ aBatch: [3], m: 23, k: 64, n: 68, transB: true, bias: true }),
];

/** mlp(x) = act(x W1^T + b1) W2^T + b2 over [batch, tokens, input] (one node, ops/mlp.ts). */
function mlpCase(
  batch: number,
  tokens: number,
  input: number,
  hidden: number,
  output: number,
  activation: Activation,
  bias: boolean,
): OpCase {
  const rows = batch * tokens;
  const fc1 = refMatmul({ m: rows, k: input, n: hidden, transB: true, bias, activation });
  const fc2 = refMatmul({ m: rows, k: hidden, n: output, transB: true, bias });
  return {
    name: `mlp [${batch},${tokens},${input}] -> ${hidden} ${activation} -> ${output}${bias ? " with biases" : ""}`,
    inputs: [
      { shape: [batch, tokens, input] },
      { shape: [hidden, input] },
      ...(bias ? [{ shape: [hidden] }] : []),
      { shape: [output, hidden] },
      ...(bias ? [{ shape: [output] }] : []),
    ],
    run: (t) =>
      bias
        ? mlp(t[0], { w1: t[1], b1: t[2], w2: t[3], b2: t[4] }, activation)
        : mlp(t[0], { w1: t[1], w2: t[2] }, activation),
    reference: (t) => (bias ? fc2([fc1([t[0], t[1], t[2]]), t[3], t[4]]) : fc2([fc1([t[0], t[1]]), t[2]])),
    atol: 1e-4,
    rtol: 1e-4,
  };
}

export const mlpCases: OpCase[] = [
  mlpCase(2, 7, 13, 37, 11, "gelu", true),
  mlpCase(1, 5, 6, 9, 3, "relu", false),
  mlpCase(2, 9, 12, 36, 8, "gelu", true), // vec4 quads throughout (the direct kernel)
];

const EPS = 1e-6;

/**
 * A Linear of LN(x), the layernorm deferred to the product, which normalises x as it loads it
 * (forward) and again for the weight gradient (dW = dZ^T LN(x)); x's gradient goes through LN's
 * backward. Inputs: x [...batch, rows, k], LN weight and bias [k], W [n, k], bias [n].
 */
function normalizedLinearCase(
  batch: number[],
  rows: number,
  k: number,
  n: number,
  bias: boolean,
  activation: Activation,
  tile?: 64 | 128,
): OpCase {
  const m = numel(batch) * rows;
  const linear = refMatmul({ m, k, n, transB: true, bias, activation });
  const norm = refLayerNorm(k, EPS);
  return {
    name: `LN(x) [${[...batch, rows, k]}] @ W^T [${n},${k}]${bias ? " + bias" : ""} ${activation}${tile ? ` tile ${tile}` : ""}, normalised on load`,
    inputs: [
      { shape: [...batch, rows, k] },
      { shape: [k] },
      { shape: [k] },
      { shape: [n, k] },
      ...(bias ? [{ shape: [n] }] : []),
    ],
    run: ([x, lnWeight, lnBias, w, b]) =>
      matmul(layerNormDeferred(x, lnWeight, lnBias, EPS), w, { transB: true, bias: b, activation, tile }),
    reference: ([x, lnWeight, lnBias, w, b]) => linear([norm([x, lnWeight, lnBias]), w, b]),
    atol: 1e-4,
    rtol: 1e-4,
  };
}

/** mlp(LN(x)), the layernorm deferred to the first product, as a ViT block's second half. */
function normalizedMlpCase(
  batch: number,
  tokens: number,
  input: number,
  hidden: number,
  output: number,
): OpCase {
  const rows = batch * tokens;
  const fc1 = refMatmul({ m: rows, k: input, n: hidden, transB: true, bias: true, activation: "gelu" });
  const fc2 = refMatmul({ m: rows, k: hidden, n: output, transB: true, bias: true });
  const norm = refLayerNorm(input, EPS);
  return {
    name: `mlp(LN(x)) [${batch},${tokens},${input}] -> ${hidden} gelu -> ${output}, normalised on load`,
    inputs: [
      { shape: [batch, tokens, input] },
      { shape: [input] },
      { shape: [input] },
      { shape: [hidden, input] },
      { shape: [hidden] },
      { shape: [output, hidden] },
      { shape: [output] },
    ],
    run: ([x, lnWeight, lnBias, w1, b1, w2, b2]) =>
      mlp(layerNormDeferred(x, lnWeight, lnBias, EPS), { w1, b1, w2, b2 }, "gelu"),
    reference: ([x, lnWeight, lnBias, w1, b1, w2, b2]) =>
      fc2([fc1([norm([x, lnWeight, lnBias]), w1, b1]), w2, b2]),
    atol: 1e-4,
    rtol: 1e-4,
  };
}

// Odd sizes (partial tiles, f32 quads), K a multiple of 4 (vec4 quads), a 2-D x over several
// 128-wide tiles with no bias (the weight gradient's plain product rather than the one that also
// sums the bias gradient), and an activation after the normalised product.
export const normalizedCases: OpCase[] = [
  normalizedLinearCase([2], 9, 13, 11, true, "none"),
  normalizedLinearCase([2], 5, 36, 20, true, "none"),
  normalizedLinearCase([], 70, 33, 67, false, "gelu", 128),
  normalizedLinearCase([3], 4, 7, 5, true, "relu"),
  normalizedMlpCase(2, 7, 13, 37, 11),
  // vec4 quads throughout (the direct kernel): rows and columns ending inside a thread's block.
  normalizedLinearCase([3], 7, 20, 44, true, "gelu"),
  normalizedMlpCase(2, 9, 12, 36, 8),
];
