// matmul(a, b): batched matrix products with the transposes done by the kernel's loads, an
// optional bias and activation fused into the epilogue, and a backward made of more matmuls.
// a: [...batch, M, K] ([...batch, K, M] with transA); b: [...batch, K, N] ([...batch, N, K] with
// transB). Either operand may be 2-D and shared by every batch of the other (weights). A Linear's
// input may be a layernorm deferred to it (Normalized): the product normalises as it loads.
import code from "../../kernels/matmul.wgsl?raw";
import type { Gpu } from "../gpu/gpu";
import { ceilDiv, grid1d, kernel } from "../gpu/kernel";
import { record, recording } from "../tensor/tape";
import { numel, shapeString, Tensor } from "../tensor/tensor";
import { isNormalized, layerNormGrads, type Normalized, normalizedNeedsGrad } from "./layernorm";
import { sum, sumToShape } from "./reduce";

/**
 * How the kernel reads quads of an operand: one vec4 load, or 4 f32 loads. Past an edge a quad is
 * zero, by select rather than a branch: no divergent control flow (which a CPU adapter runs as
 * masked lanes, twice as slow in the direct kernel), and the index is 0 there, so that a load
 * never leaves the binding even where Dawn's robustness is off (the benchmarks).
 */
const A_QUADS = {
  f32: `alias AElem = f32;
fn a_at(base: u32, m: u32, k: u32) -> f32 {
  let inside = m < p.m && k < p.k;
  let i = select(base + m * p.k + k, base + k * p.m + m, TRANS_A);
  return select(0.0, a[select(0u, i, inside)], inside);
}
fn a_quad(base: u32, m: u32, k: u32) -> vec4f {   // rows m .. m + 3 at k, or ks k .. k + 3 of row m
  if (TRANS_A) { return vec4f(a_at(base, m, k), a_at(base, m + 1u, k), a_at(base, m + 2u, k), a_at(base, m + 3u, k)); }
  return vec4f(a_at(base, m, k), a_at(base, m, k + 1u), a_at(base, m, k + 2u), a_at(base, m, k + 3u));
}
`,
  vec4: `alias AElem = vec4f;
fn a_quad(base: u32, m: u32, k: u32) -> vec4f {
  let inside = m < p.m && k < p.k;
  let i = select(base + m * p.k + k, base + k * p.m + m, TRANS_A) / 4u;
  return select(vec4f(0.0), a[select(0u, i, inside)], inside);
}
`,
};
const B_QUADS = {
  f32: `alias BElem = f32;
fn b_at(base: u32, k: u32, n: u32) -> f32 {
  let inside = k < p.k && n < p.n;
  let i = select(base + k * p.n + n, base + n * p.k + k, TRANS_B);
  return select(0.0, b[select(0u, i, inside)], inside);
}
fn b_quad(base: u32, k: u32, n: u32) -> vec4f {   // ks k .. k + 3 of column n, or columns n .. n + 3 at k
  if (TRANS_B) { return vec4f(b_at(base, k, n), b_at(base, k + 1u, n), b_at(base, k + 2u, n), b_at(base, k + 3u, n)); }
  return vec4f(b_at(base, k, n), b_at(base, k, n + 1u), b_at(base, k, n + 2u), b_at(base, k, n + 3u));
}
`,
  vec4: `alias BElem = vec4f;
fn b_quad(base: u32, k: u32, n: u32) -> vec4f {
  let inside = k < p.k && n < p.n;
  let i = select(base + k * p.n + n, base + n * p.k + k, TRANS_B) / 4u;
  return select(vec4f(0.0), b[select(0u, i, inside)], inside);
}
`,
};
type Quads = keyof typeof A_QUADS;

/** The Params struct of matmul.wgsl. */
const PARAMS = {
  m: "u32",
  n: "u32",
  k: "u32",
  a_batch_stride: "u32",
  b_batch_stride: "u32",
  has_bias: "u32",
  activation: "u32",
  keep_pre: "u32",
  accumulate: "u32",
  activation_grad: "u32",
} as const;

function variant(entryPoint: "main" | "direct", a: Quads, b: Quads) {
  return kernel({
    name: `matmul${entryPoint === "direct" ? " direct" : ""} a:${a} b:${b}`,
    file: "matmul.wgsl",
    code,
    entryPoint,
    generated: A_QUADS[a] + B_QUADS[b],
    params: PARAMS,
    bindings: ["a", "b", "bias", "c", "pre", "norm_stats", "norm_weight", "norm_bias"],
  });
}

/**
 * The product's kernels: the tiled one, in four variants by how A's and B's quads are read, and
 * where Gpu.kernelTarget is "cpu" the direct one, for vec4 quads only (a product with an operand
 * of f32 quads runs tiled: SwiftShader's compiler does not finish the direct kernel's f32 variants).
 */
export const matmulKernels = {
  tiled: {
    f32: { f32: variant("main", "f32", "f32"), vec4: variant("main", "f32", "vec4") },
    vec4: { f32: variant("main", "vec4", "f32"), vec4: variant("main", "vec4", "vec4") },
  },
  direct: variant("direct", "vec4", "vec4"),
};
/** op(B) written out for the direct kernel (matmul.wgsl's b_loaded). */
export const bLoadedKernel = kernel({
  name: "matmul.b_loaded",
  file: "matmul.wgsl",
  code,
  entryPoint: "b_loaded",
  generated: A_QUADS.vec4 + B_QUADS.vec4,
  params: PARAMS,
  bindings: ["loaded_in", "loaded_stats", "loaded_weight", "loaded_bias", "loaded_out"],
});
/** Rows and columns of C a workgroup of the direct kernel computes (DIRECT_WG_M x DIRECT_WG_N blocks of 8 x 8). */
const DIRECT_ROWS = 32;
const DIRECT_COLS = 128;
export const activationGradKernel = kernel({
  name: "matmul.activation_backward",
  file: "matmul.wgsl",
  code,
  generated: A_QUADS.f32 + B_QUADS.f32,
  entryPoint: "activation_backward",
  params: { count: "u32", activation: "u32" },
  bindings: ["dy", "z_saved", "dz"],
});

/**
 * vec4 quads where the operand's contiguous axis has a multiple of 4 elements and its view starts
 * on 16 bytes. An empty axis (K = 0) takes f32 quads: its binding is 4 bytes, too short for a vec4.
 */
function quads(t: Tensor, contiguousLength: number): Quads {
  return contiguousLength > 0 && contiguousLength % 4 === 0 && t.offset % 16 === 0 ? "vec4" : "f32";
}

export type Activation = "none" | "relu" | "gelu";
const ACTIVATION_CODE: Record<Activation, number> = { none: 0, relu: 1, gelu: 2 };

export interface MatmulOptions {
  /** a holds [..., K, M]. */
  transA?: boolean;
  /** b holds [..., N, K], as a PyTorch Linear weight (out, in). */
  transB?: boolean;
  /** [N], added before the activation. */
  bias?: Tensor;
  activation?: Activation;
  /**
   * Workgroup tile edge of the tiled kernel; by default 128, or 64 when 128 would leave the GPU
   * short of workgroups. The direct kernel (Gpu.kernelTarget "cpu") has no tiles and ignores it.
   */
  tile?: 64 | 128;
  /** Adds the result to this tensor in place (beta = 1) and returns it (gradients in a slab). */
  into?: Tensor;
  /**
   * [M]: also writes the row sums of op(A) here (added in place when `into` is given), summed as
   * the product reads A. A Linear's bias gradient with its weight gradient; 2-D operands only.
   */
  rowSums?: Tensor;
  /** op(B) = act(B): B's elements pass through the activation as the product loads them. */
  bActivation?: Activation;
  /** A = LN(a), normalised as the product loads a (untransposed, its rows the statistics' rows). */
  aNorm?: NormLoad;
  /** B = LN(b), likewise (b untransposed and 2-D, its rows the statistics' rows). */
  bNorm?: NormLoad;
}

/** What a product needs to normalise an operand that holds a layernorm's input. */
export type NormLoad = Pick<Normalized, "stats" | "weight" | "bias">;

/** How the product's A was made from the tensor a (see matmulGrads). */
export interface ALoad {
  activation?: Activation;
  norm?: NormLoad;
}

/** Below this many 128x128 workgroups, 64x64 tiles keep more of a large GPU busy. */
const MIN_WORKGROUPS_FOR_128 = 256;

/** Override constants of a tile configuration (each thread computes 8x8 outputs). */
function tileConstants(gpu: Gpu, tile: 64 | 128): { WG_M: number; WG_N: number; BK: number } {
  if (tile === 64) return { WG_M: 8, WG_N: 8, BK: 16 }; // 16 KiB of workgroup memory
  // Two stages of 16 x (128 + 128) floats is 32 KiB; half that where the device allows less.
  const roomy = gpu.info.limits.maxComputeWorkgroupStorageSize >= 32768;
  return { WG_M: 16, WG_N: 16, BK: roomy ? 16 : 8 };
}

interface Dims {
  batch: number[];
  m: number;
  n: number;
  k: number;
}

function resolveDims(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Dims {
  const show = () =>
    `matmul: a ${shapeString(a.shape)}${transA ? " (transposed)" : ""} @ b ${shapeString(b.shape)}${transB ? " (transposed)" : ""}`;
  if (a.rank < 2 || b.rank < 2) throw new Error(`${show()}: both operands need at least 2 axes`);
  if (a.dtype !== "f32" || b.dtype !== "f32") throw new Error(`${show()}: f32 operands expected`);
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  if (aBatch.length && bBatch.length && shapeString(aBatch) !== shapeString(bBatch)) {
    throw new Error(`${show()}: batch axes ${shapeString(aBatch)} and ${shapeString(bBatch)} differ`);
  }
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [m, ka] = transA ? [ac, ar] : [ar, ac];
  const [kb, n] = transB ? [bc, br] : [br, bc];
  if (ka !== kb) throw new Error(`${show()}: inner sizes ${ka} and ${kb} differ`);
  return { batch: aBatch.length ? aBatch : bBatch, m, n, k: ka };
}

export function matmul(a: Tensor | Normalized, b: Tensor, opts: MatmulOptions = {}): Tensor {
  if (isNormalized(a)) return normalizedMatmul(a, b, opts);
  const { bias, activation = "none" } = opts;
  const inputs = bias ? [a, b, bias] : [a, b];
  const keepPre = activation !== "none" && recording() && inputs.some((t) => t.requiresGrad);
  const { out, pre } = product(a, b, opts, { keepPre });
  return record("matmul", inputs, out, (dOut, into) => {
    const dZ = pre ? activationBackward(dOut, pre, activation) : dOut;
    return matmulGrads(a, b, dZ, opts, into);
  });
}

/**
 * A Linear (b transposed, 2-D) of LN(x) that normalises x as it loads it: LN(x) is never written.
 * The node's inputs are x, the layernorm's weight and bias, b and the bias.
 */
function normalizedMatmul(n: Normalized, b: Tensor, opts: MatmulOptions): Tensor {
  if (!opts.transB || opts.transA || b.rank !== 2) {
    throw new Error(
      `matmul: a layernorm deferred to a product needs a Linear's layout (b a 2-D weight [N, K], transB), got b ${b.describe()}`,
    );
  }
  const { bias, activation = "none" } = opts;
  const inputs = [n.x, n.weight, n.bias, b, ...(bias ? [bias] : [])];
  const keepPre = activation !== "none" && recording() && inputs.some((t) => t.requiresGrad);
  const { out, pre } = product(n.x, b, { ...opts, aNorm: n }, { keepPre });
  const node = record("matmul", inputs, out, (dOut, into) => {
    const dZ = pre ? activationBackward(dOut, pre, activation) : dOut;
    const [intoX, intoWeight, intoBias, ...rest] = into;
    return normalizedLinearGrads(n, b, dZ, opts, [intoX, intoWeight, intoBias], rest);
  });
  if (!node.requiresGrad) n.stats.dispose(); // nothing will run the backward
  return node;
}

/**
 * The gradients of a Linear of LN(x) (y = LN(x) W^T + bias, normalised on load) given dZ:
 * [dx, dLN weight, dLN bias, dW, dbias if a bias], through LN's backward from dLN(x) = dZ W.
 * intoNorm and intoLinear are the `into` tensors of those two groups.
 */
export function normalizedLinearGrads(
  n: Normalized,
  w: Tensor,
  dZ: Tensor,
  opts: MatmulOptions,
  intoNorm: (Tensor | undefined)[],
  intoLinear: (Tensor | undefined)[],
): (Tensor | null)[] {
  const [, dW, dBias] = matmulGrads(n.x, w, dZ, opts, [undefined, ...intoLinear], { norm: n });
  let normGrads: (Tensor | null)[] = [null, null, null];
  if (normalizedNeedsGrad(n)) {
    const dY = product(dZ, w, {}).out;
    normGrads = layerNormGrads(n, dY, intoNorm);
    dY.dispose();
  }
  return [...normGrads, dW, ...(opts.bias ? [dBias] : [])];
}

/** What a product may do besides act(op(A) op(B) + bias), for ops that record their own node. */
export interface ProductExtras {
  /** Also return z, the product before the activation (what the activation's backward reads). */
  keepPre?: boolean;
  /** Multiply the product by act'(z) (z of the product's shape): dZ = (dY W) * act'(z) in one pass. */
  activationGradOf?: { z: Tensor; activation: Activation };
}

/** The product itself, recording nothing: one dispatch (none for an empty result). */
export function product(
  a: Tensor,
  b: Tensor,
  opts: MatmulOptions,
  extras: ProductExtras = {},
): { out: Tensor; pre: Tensor | null } {
  const { transA = false, transB = false, bias, activation = "none" } = opts;
  const { batch, m, n, k } = resolveDims(a, b, transA, transB);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== n || bias.dtype !== "f32")) {
    throw new Error(`matmul: bias must be f32 [${n}], got ${bias.describe()}`);
  }
  const gpu = a.gpu;
  const into = opts.into;
  const size = numel([...batch, m, n]);
  if (into && into.size !== size) {
    throw new Error(`matmul: the product [${[...batch, m, n].join(", ")}] does not fit ${into.describe()}`);
  }
  const out = into ?? Tensor.empty(gpu, [...batch, m, n]);
  const rowSums = opts.rowSums;
  if (rowSums && (a.rank !== 2 || b.rank !== 2 || rowSums.size !== m || activation !== "none")) {
    throw new Error(
      `matmul: row sums need 2-D operands, no activation and [${m}] for them, got ${rowSums.describe()}`,
    );
  }
  const gradOf = extras.activationGradOf;
  if (gradOf && (gradOf.z.size !== size || bias || activation !== "none" || rowSums || into)) {
    throw new Error(`matmul: act'(z) needs z of the product's ${size} elements and a plain product`);
  }
  const pre = extras.keepPre && activation !== "none" ? Tensor.empty(gpu, out.shape) : null;

  // A shared 2-D b with an untransposed a is one product with the batch folded into M.
  const fold = b.rank === 2 && !transA;
  const groups = fold ? 1 : numel(batch);
  const rows = fold ? numel(batch) * m : m;
  const norm = checkNorm(opts, rows, n, k, groups, a.rank === 2 || fold, b.rank === 2);
  if (out.size > 0) {
    const qa = quads(a, transA ? m : k);
    const qb = quads(b, transB ? k : n);
    const direct = gpu.kernelTarget === "cpu" && qa === "vec4" && qb === "vec4";
    const tiles = direct ? null : tileConstants(gpu, opts.tile ?? pickTile(rows, n, groups));
    const bm = tiles ? 8 * tiles.WG_M : DIRECT_ROWS;
    const bn = tiles ? 8 * tiles.WG_N : DIRECT_COLS;
    const maxGroups = gpu.info.limits.maxComputeWorkgroupsPerDimension;
    if (ceilDiv(rows, bm) > maxGroups || groups > maxGroups) {
      throw new Error(`matmul: ${rows} rows in ${groups} batches exceed the device's workgroup grid`);
    }
    // The direct kernel would apply B's layernorm or activation once per thread along M that
    // loads an element (A's it hoists: a row's statistics per thread, a k's weight per block): B
    // so loaded is written out once instead, and read as it is.
    const bAct = opts.bActivation ?? "none";
    const opB = direct && (bAct !== "none" || opts.bNorm) ? bLoaded(b, opts.bNorm, bAct) : null;
    gpu.dispatch({
      kernel: direct ? matmulKernels.direct : matmulKernels.tiled[qa][qb],
      constants: {
        ...(tiles ?? {}),
        TRANS_A: transA ? 1 : 0,
        TRANS_B: transB ? 1 : 0,
        ROW_SUMS: rowSums ? 1 : 0,
        B_ACTIVATION: opB ? 0 : ACTIVATION_CODE[bAct],
        A_NORM: opts.aNorm ? 1 : 0,
        B_NORM: opts.bNorm && !opB ? 1 : 0,
      },
      params: {
        m: rows,
        n,
        k,
        a_batch_stride: a.rank > 2 ? m * k : 0,
        b_batch_stride: b.rank > 2 ? k * n : 0,
        has_bias: bias ? 1 : 0,
        activation: ACTIVATION_CODE[activation],
        keep_pre: pre ? 1 : 0,
        accumulate: into ? 1 : 0,
        activation_grad: gradOf ? ACTIVATION_CODE[gradOf.activation] : 0,
      },
      // Unused bindings: a read-only input stands in for the bias and the layernorm's, the dummy for z.
      buffers: {
        a: a.binding,
        b: (opB ?? b).binding,
        bias: (bias ?? a).binding,
        c: out.binding,
        pre: (pre ?? rowSums ?? gradOf?.z)?.binding ?? gpu.dummy,
        norm_stats: (norm?.stats ?? a).binding,
        norm_weight: (norm?.weight ?? a).binding,
        norm_bias: (norm?.bias ?? a).binding,
      },
      workgroups: [ceilDiv(n, bn), ceilDiv(rows, bm), groups],
    });
    opB?.dispose();
  }
  return { out, pre };
}

/** op(B) = act(LN(b)) as the direct kernel would load it, written out in b's layout. */
function bLoaded(b: Tensor, norm: NormLoad | undefined, activation: Activation): Tensor {
  const out = Tensor.empty(b.gpu, b.shape);
  const cols = b.shape[b.rank - 1];
  b.gpu.dispatch({
    kernel: bLoadedKernel,
    constants: { B_NORM: norm ? 1 : 0, B_ACTIVATION: ACTIVATION_CODE[activation] },
    params: {
      m: 0,
      n: cols,
      k: b.size / cols,
      a_batch_stride: 0,
      b_batch_stride: 0,
      has_bias: 0,
      activation: 0,
      keep_pre: 0,
      accumulate: 0,
      activation_grad: 0,
    },
    buffers: {
      loaded_in: b.binding,
      loaded_stats: (norm?.stats ?? b).binding,
      loaded_weight: (norm?.weight ?? b).binding,
      loaded_bias: (norm?.bias ?? b).binding,
      loaded_out: out.binding,
    },
    workgroups: grid1d(b.size / 4),
  });
  return out;
}

/** The layernorm an operand is loaded through, if any, checked against the product's shape. */
function checkNorm(
  opts: MatmulOptions,
  rows: number,
  n: number,
  k: number,
  groups: number,
  aFlat: boolean,
  bFlat: boolean,
): NormLoad | undefined {
  const { aNorm, bNorm } = opts;
  if (!aNorm && !bNorm) return undefined;
  const fits = (norm: NormLoad, statRows: number, cols: number) =>
    norm.stats.size === 2 * statRows && norm.weight.size === cols && norm.bias.size === cols;
  const aOk = !aNorm || (!opts.transA && aFlat && groups === 1 && fits(aNorm, rows, k));
  const bOk = !bNorm || (!opts.transB && bFlat && groups === 1 && fits(bNorm, k, n));
  if (aNorm && bNorm) throw new Error("matmul: only one operand can be normalised on load");
  if (!aOk || !bOk) {
    throw new Error(
      "matmul: an operand normalised on load must be untransposed, unbatched, with statistics " +
        "for each of its rows and a weight and bias for each of its columns",
    );
  }
  return aNorm ?? bNorm;
}

/**
 * The gradients of a, b and the bias (where they need one) given dZ, the gradient of the product
 * before its activation; into[j], where given, is added to in place and returned. With `aLoad`,
 * the product's A was act(a) (a holding the pre-activation) or LN(a) (a holding LN's input): b's
 * gradient applies it as it loads a, and a gets no gradient here (its own is the caller's). Only
 * for b transposed, as in a Linear.
 */
export function matmulGrads(
  a: Tensor,
  b: Tensor,
  dZ: Tensor,
  opts: MatmulOptions,
  into: (Tensor | undefined)[],
  aLoad: ALoad = {},
): (Tensor | null)[] {
  const { transA = false, transB = false, bias } = opts;
  const loaded = (aLoad.activation ?? "none") !== "none" || aLoad.norm !== undefined;
  if (loaded && !transB) throw new Error("matmulGrads: an activation or layernorm of a needs b transposed");
  const dA = a.requiresGrad && !loaded ? gradA(a, b, dZ, transA, transB, into[0]) : null;
  const dB = () => (b.requiresGrad ? gradB(a, b, dZ, transA, transB, into[1], aLoad) : null);
  if (!bias) return [dA, dB()];
  const linear =
    b.requiresGrad && bias.requiresGrad ? linearGrads(a, b, dZ, opts, into[1], into[2], aLoad) : null;
  if (linear) return [dA, ...linear];
  return [dA, dB(), bias.requiresGrad ? sumToShape(dZ, bias.shape, into[2]) : null];
}

function pickTile(rows: number, n: number, groups: number): 64 | 128 {
  return ceilDiv(rows, 128) * ceilDiv(n, 128) * groups >= MIN_WORKGROUPS_FOR_128 ? 128 : 64;
}

/** dZ = dY * act'(z). */
function activationBackward(dY: Tensor, z: Tensor, activation: Activation): Tensor {
  const dZ = Tensor.empty(dY.gpu, dY.shape);
  if (dZ.size) {
    dY.gpu.dispatch({
      kernel: activationGradKernel,
      params: { count: dZ.size, activation: ACTIVATION_CODE[activation] },
      buffers: { dy: dY.binding, z_saved: z.binding, dz: dZ.binding },
      workgroups: grid1d(dZ.size),
    });
  }
  return dZ;
}

/** A gradient computed per batch for a 2-D operand shared by every batch: summed over the batch. */
function sumBatches(d: Tensor, rank: number): Tensor {
  return d.rank > rank ? sum(d, [...Array(d.rank - rank).keys()]) : d;
}

// Z = op(A) op(B): dA = dZ op(B)^T, or op(B) dZ^T when A is stored transposed.
function gradA(a: Tensor, b: Tensor, dZ: Tensor, transA: boolean, transB: boolean, into?: Tensor): Tensor {
  // Without batch axes to sum first, the product goes straight into `into`.
  const direct = a.rank >= Math.max(b.rank, dZ.rank) ? into : undefined;
  const d = transA
    ? matmul(b, dZ, { transA: transB, transB: true, into: direct })
    : matmul(dZ, b, { transB: !transB, into: direct });
  if (direct || !into) return sumBatches(d, a.rank);
  return sumToShape(d, a.shape, into);
}

/**
 * A Linear's weight and bias gradients (y = x W^T + bias, W [N, K]) from one product: dW = dZ^T x
 * with dZ's column sums, the bias gradient, taken as its row sums of dZ^T on the way. Null where
 * the layout is another, or only one of the two gradients has a tensor to be added to.
 */
function linearGrads(
  a: Tensor,
  b: Tensor,
  dZ: Tensor,
  opts: MatmulOptions,
  intoW?: Tensor,
  intoBias?: Tensor,
  aLoad: ALoad = {},
): [Tensor, Tensor] | null {
  if (
    !opts.transB ||
    opts.transA ||
    b.rank !== 2 ||
    b.shape[1] === 0 ||
    (intoW === undefined) !== (intoBias === undefined)
  )
    return null;
  const [n, k] = b.shape;
  const a2 = a.reshape([-1, k]);
  const dZ2 = dZ.reshape([-1, n]);
  const dBias = intoBias ?? Tensor.empty(a.gpu, [n]);
  const dW = matmul(dZ2, a2, { transA: true, into: intoW, rowSums: dBias, ...bLoad(aLoad) });
  a2.dispose();
  dZ2.dispose();
  return [dW, dBias];
}

/** The product options that apply aLoad to its B operand (a, loaded for a weight gradient). */
function bLoad(aLoad: ALoad): MatmulOptions {
  return { bActivation: aLoad.activation, bNorm: aLoad.norm };
}

// dB = op(A)^T dZ, or dZ^T op(A) when B is stored transposed; added to `into` where given.
// With aLoad (B transposed only), op(A) = act(a) or LN(a), applied as the product loads a.
function gradB(
  a: Tensor,
  b: Tensor,
  dZ: Tensor,
  transA: boolean,
  transB: boolean,
  into?: Tensor,
  aLoad: ALoad = {},
): Tensor {
  if (b.rank === 2 && a.rank > 2 && !transA) {
    // Shared weights: fold the batch into M so the batch sum happens inside one product.
    const a2 = a.reshape([-1, a.shape[a.rank - 1]]);
    const dZ2 = dZ.reshape([-1, dZ.shape[dZ.rank - 1]]);
    const d = transB
      ? matmul(dZ2, a2, { transA: true, into, ...bLoad(aLoad) })
      : matmul(a2, dZ2, { transA: true, into });
    a2.dispose();
    dZ2.dispose();
    return d;
  }
  const direct = b.rank >= Math.max(a.rank, dZ.rank) ? into : undefined; // no batch axes to sum first
  const d = transB
    ? matmul(dZ, a, { transA: true, transB: transA, into: direct, ...bLoad(aLoad) })
    : matmul(a, dZ, { transA: !transA, into: direct });
  if (direct || !into) return sumBatches(d, b.rank);
  return sumToShape(d, b.shape, into);
}
