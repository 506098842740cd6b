// attention: softmax(q k^T * scale, key mask) v per (batch, head), fused: the forward never
// stores the score matrix, the backward recomputes it block by block from q, k and the saved
// log-sum-exp. Two entry points share the kernels, which take each operand's layout as strides:
// - attention(q, k, v): q [B, H, Sq, Dh]; k, v [B, H, Sk, Dh]; out [B, H, Sq, Dh];
// - selfAttention(qkv, heads): q, k, v read straight from a packed projection [B, S, 3 * H * Dh]
//   (rows [q | k | v], each head-major), out written merged as [B, S, H * Dh], and the gradient
//   written into one [B, S, 3 * H * Dh] tensor: no head split or merge copies either way.
import code from "../../kernels/attention.wgsl?raw";
import type { Gpu, KernelTarget } from "../gpu/gpu";
import { ceilDiv, grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { shapeString, Tensor } from "../tensor/tensor";

/** Threads per workgroup; each owns R_Q query rows (R_K keys in the dkv pass). */
const ROWS = 64;
/** Rows are held in registers as ceil(Dh / 4) vec4s, R of them a thread: bounded here. */
export const MAX_HEAD_DIM = 128;
/**
 * vec4s of rows a thread holds per operand: R * ceil(Dh / 4) stays within these. A GPU thread's
 * registers bound them; a CPU adapter (Gpu.kernelTarget "cpu") spills to its caches instead,
 * and there more rows a thread means fewer reads of K and V per FMA: with the head-dim loops
 * written out too, 1.4x on SwiftShader's attention at ViT-S/14 (either alone, no gain).
 */
const ROW_VEC4S: Record<KernelTarget, { query: number; key: number }> = {
  gpu: { query: 16, key: 12 },
  cpu: { query: 64, key: 64 },
};

/** The Params struct of attention.wgsl, shared by its four entry points. */
const PARAMS = {
  sq: "u32",
  sk: "u32",
  bh: "u32",
  heads: "u32",
  scale: "f32",
  scale_log2: "f32",
  q_off: "u32",
  q_rs: "u32",
  q_hs: "u32",
  q_bs: "u32",
  k_off: "u32",
  v_off: "u32",
  kv_rs: "u32",
  kv_hs: "u32",
  kv_bs: "u32",
  dk_off: "u32",
  dv_off: "u32",
  o_rs: "u32",
  o_hs: "u32",
  o_bs: "u32",
  has_mask: "u32",
} as const;
const INPUTS = ["q", "k", "v", "key_mask"] as const;

/** The largest of 4, 2, 1 rows a thread whose row sets stay within `budget` vec4s. */
function rowsPerThread(dh4: number, budget: number): number {
  return [4, 2, 1].find((r) => r * dh4 <= budget) ?? 1;
}

/** Loads a row's vec4 c from `array` (element `start` + `off` on), as vec4 or 4 checked f32s. */
function loader(name: string, array: string, off: string, vec4: boolean): string {
  const at = off ? `${off} + start` : "start";
  return vec4
    ? `fn ${name}(start: u32, c: u32) -> vec4f { return ${array}[(${at}) / 4u + c]; }\n`
    : `fn ${name}(start: u32, c: u32) -> vec4f {
  var r = vec4f(0.0);
  for (var t = 0u; t < 4u; t++) {
    if (4u * c + t < DH) { r[t] = ${array}[${at} + 4u * c + t]; }
  }
  return r;
}
`;
}

function storer(name: string, array: string, off: string, vec4: boolean): string {
  const at = off ? `${off} + start` : "start";
  return vec4
    ? `fn ${name}(start: u32, c: u32, x: vec4f) { ${array}[(${at}) / 4u + c] = x; }\n`
    : `fn ${name}(start: u32, c: u32, x: vec4f) {
  for (var t = 0u; t < 4u; t++) {
    if (4u * c + t < DH) { ${array}[${at} + 4u * c + t] = x[t]; }
  }
}
`;
}

/** Writes each `//$each R` ... `//$end` block of the kernel R times, $r = 0, 1, ... */
function unrollRows(source: string, counts: Record<string, number>): string {
  return source.replace(
    /^\s*\/\/\$each (\w+)\n([\s\S]*?)^\s*\/\/\$end\n/gm,
    (_, name: string, body: string) =>
      Array.from({ length: counts[name] }, (_, r) => body.replaceAll("$r", String(r))).join(""),
  );
}

/**
 * Writes each loop `for (var c = 0u; c < DH4; c++) { ... }` of the kernel DH4 times, c a
 * constant in each, so that a row's vec4s are indexed by constants (for a CPU adapter, whose
 * compiler would otherwise keep the rows' arrays in memory; a GPU's compiler unrolls by itself).
 */
function unrollHeadDim(source: string, dh4: number): string {
  const head = "for (var c = 0u; c < DH4; c++) {";
  let out = "";
  let at = 0;
  for (let i = source.indexOf(head); i >= 0; i = source.indexOf(head, at)) {
    let depth = 1;
    let end = i + head.length;
    for (; depth > 0; end++) {
      if (source[end] === "{") depth++;
      else if (source[end] === "}") depth--;
    }
    const body = source.slice(i + head.length, end - 1);
    out += source.slice(at, i);
    out += Array.from({ length: dh4 }, (_, c) => `{${body.replace(/\bc\b/g, `${c}u`)}}`).join("\n");
    at = end;
  }
  return out + source.slice(at);
}

const kernelSets = new Map<string, ReturnType<typeof makeKernels>>();

/**
 * The kernels for one head dim, with its constants compiled in (WGSL sizes function arrays only
 * by constants), vec4 or f32 access to the rows (vec4 where every row starts at a multiple of 4
 * elements), shaped for a GPU or for a CPU adapter (ROW_VEC4S).
 */
export function attentionKernels(headDim: number, vec4: boolean, target: KernelTarget) {
  const dh4 = Math.ceil(headDim / 4);
  const rq = rowsPerThread(dh4, ROW_VEC4S[target].query);
  const rk = rowsPerThread(dh4, ROW_VEC4S[target].key);
  const key = `${headDim}${vec4 ? " vec4" : ""}${target === "cpu" ? ` cpu ${rq}x${rk}` : ""}`;
  const known = kernelSets.get(key);
  if (known) return known;
  const made = makeKernels(headDim, vec4, target, rq, rk, key);
  kernelSets.set(key, made);
  return made;
}

function makeKernels(
  headDim: number,
  vec4: boolean,
  target: KernelTarget,
  rq: number,
  rk: number,
  key: string,
) {
  const dh4 = Math.ceil(headDim / 4);
  const generated =
    `const DH: u32 = ${headDim}u;\nconst DH4: u32 = ${dh4}u;\nconst R_Q: u32 = ${rq}u;\nconst R_K: u32 = ${rk}u;\n` +
    `alias Elem = ${vec4 ? "vec4f" : "f32"};\n` +
    loader("load_q", "q", "", vec4) +
    loader("load_k", "k", "p.k_off", vec4) +
    loader("load_v", "v", "p.v_off", vec4) +
    loader("load_do", "d_o", "", vec4) +
    loader("load_delta_o", "delta_o", "", vec4) +
    loader("load_delta_do", "delta_do", "", vec4) +
    storer("store_out", "out", "", vec4) +
    storer("store_dq", "dq", "", vec4) +
    storer("store_dk", "dkv", "p.dk_off", vec4) +
    storer("store_dv", "dkv", "p.dv_off", vec4);
  const rows = unrollRows(code, { R_Q: rq, R_K: rk });
  const text = target === "cpu" ? unrollHeadDim(rows, dh4) : rows;
  const file = "attention.wgsl (rows unrolled)";
  return {
    forward: kernel({
      name: `attention.forward ${key}`,
      file,
      code: text,
      generated,
      entryPoint: "forward",
      params: PARAMS,
      bindings: [...INPUTS, "out", "out_lse"],
    }),
    delta: kernel({
      name: `attention.delta ${key}`,
      file,
      code: text,
      generated,
      entryPoint: "delta",
      params: PARAMS,
      bindings: ["delta_o", "delta_do", "delta_lse", "delta_stats"],
    }),
    dkv: kernel({
      name: `attention.backward_dkv ${key}`,
      file,
      code: text,
      generated,
      entryPoint: "backward_dkv",
      params: PARAMS,
      bindings: [...INPUTS, "stats", "d_o", "dkv"],
    }),
    dq: kernel({
      name: `attention.backward_dq ${key}`,
      file,
      code: text,
      generated,
      entryPoint: "backward_dq",
      params: PARAMS,
      bindings: [...INPUTS, "stats", "d_o", "dq"],
    }),
    /** Query rows per thread in forward and backward_dq; keys per thread in backward_dkv. */
    rq,
    rk,
  };
}

export interface AttentionOptions {
  /** [B, Sk], u32 or i32: nonzero = real key, 0 = padding (gets no attention). */
  keyMask?: Tensor;
  /** Multiplies the scores; default 1 / sqrt(headDim). */
  scale?: number;
}

/** Element (b, h, s, 0) of an operand sits at off + b * batch + h * head + s * row. */
interface Layout {
  off: number;
  row: number;
  head: number;
  batch: number;
}

/** [B, H, S, Dh], contiguous. */
function headMajor(heads: number, s: number, dh: number): Layout {
  return { off: 0, row: dh, head: s * dh, batch: heads * s * dh };
}

/** Part `part` (0 q, 1 k, 2 v; or 0 for a merged output) of [B, S, parts * H * Dh]. */
function tokenMajor(parts: number, part: number, heads: number, s: number, dh: number): Layout {
  const width = parts * heads * dh;
  return { off: part * heads * dh, row: width, head: dh, batch: s * width };
}

interface Problem {
  batch: number;
  heads: number;
  sq: number;
  sk: number;
  headDim: number;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  qLayout: Layout;
  kLayout: Layout;
  vOff: number;
  oLayout: Layout;
  outShape: readonly number[];
  opts: AttentionOptions;
}

/** Rows per staged block: the largest that fits the forward's workgroup memory. */
function tileRows(gpu: Gpu, headDim: number, rq: number, rows: number): number {
  const vec4s = Math.ceil(headDim / 4);
  const limit = gpu.device.limits.maxComputeWorkgroupStorageSize;
  for (const tile of [32, 16]) {
    if (2 * tile * vec4s * 16 + tile * 4 + tile * rows * rq * 4 <= limit) return tile;
  }
  return 8; // fits WebGPU's 16 KiB minimum for any head dim up to MAX_HEAD_DIM
}

/** Every row of every operand starts at a multiple of 4 elements: the vec4 kernels apply. */
function aligned(p: Problem, ...offsets: number[]): boolean {
  const { qLayout: q, kLayout: k, oLayout: o } = p;
  const all = [p.headDim, q.off, q.row, q.head, q.batch, k.off, p.vOff, k.row, k.head, k.batch];
  return [...all, o.row, o.head, o.batch, ...offsets].every((x) => x % 4 === 0);
}

function same(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function checkMask(op: string, mask: Tensor | undefined, batch: number, sk: number): void {
  if (mask && (mask.dtype === "f32" || !same(mask.shape, [batch, sk]))) {
    throw new Error(`${op}: keyMask must be u32 or i32 [${batch}, ${sk}], got ${mask.describe()}`);
  }
}

export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const [batch, heads, sq, headDim] = q.shape;
  const sk = k.shape[2];
  if (
    q.rank !== 4 ||
    !same(k.shape, [batch, heads, sk, headDim]) ||
    !same(v.shape, k.shape) ||
    q.size === 0 ||
    k.size === 0 ||
    headDim > MAX_HEAD_DIM
  ) {
    throw new Error(
      `attention: non-empty q [B, H, Sq, Dh] and k, v [B, H, Sk, Dh] with Dh <= ${MAX_HEAD_DIM} expected, got ` +
        `${shapeString(q.shape)}, ${shapeString(k.shape)}, ${shapeString(v.shape)}`,
    );
  }
  checkMask("attention", opts.keyMask, batch, sk);
  const qLayout = headMajor(heads, sq, headDim);
  const kLayout = headMajor(heads, sk, headDim);
  const problem = { batch, heads, sq, sk, headDim, q, k, v, qLayout, kLayout, vOff: 0 };
  const out = run({ ...problem, oLayout: qLayout, outShape: q.shape, opts });
  return record("attention", [q, k, v], out.out, (dOut) => {
    // dk and dv go through one binding of the kernel: two views of one buffer.
    const [dk, dv] = Tensor.packed(q.gpu, [k.shape, v.shape]);
    const dq = Tensor.empty(q.gpu, q.shape);
    backward(
      { ...problem, oLayout: qLayout, outShape: q.shape, opts },
      out,
      dOut,
      dq,
      dk.buffer,
      0,
      dv.offset / 4,
    );
    return [dq, dk, dv];
  });
}

/** Self-attention over a packed qkv projection [B, S, 3 * heads * Dh]; out [B, S, heads * Dh]. */
export function selfAttention(qkv: Tensor, heads: number, opts: AttentionOptions = {}): Tensor {
  const [batch, s, width] = qkv.shape;
  const headDim = width / 3 / heads;
  if (
    qkv.rank !== 3 ||
    qkv.size === 0 ||
    !Number.isInteger(heads) ||
    heads < 1 ||
    !Number.isInteger(headDim) ||
    headDim > MAX_HEAD_DIM
  ) {
    throw new Error(
      `selfAttention: non-empty qkv [B, S, 3 * ${heads} heads * Dh] with Dh <= ${MAX_HEAD_DIM} expected, got ${shapeString(qkv.shape)}`,
    );
  }
  checkMask("selfAttention", opts.keyMask, batch, s);
  const kLayout = tokenMajor(3, 1, heads, s, headDim);
  const problem: Problem = {
    batch,
    heads,
    sq: s,
    sk: s,
    headDim,
    q: qkv,
    k: qkv,
    v: qkv,
    qLayout: tokenMajor(3, 0, heads, s, headDim),
    kLayout,
    vOff: tokenMajor(3, 2, heads, s, headDim).off,
    oLayout: tokenMajor(1, 0, heads, s, headDim),
    outShape: [batch, s, heads * headDim],
    opts,
  };
  const out = run(problem);
  return record("selfAttention", [qkv], out.out, (dOut) => {
    const dqkv = Tensor.empty(qkv.gpu, qkv.shape);
    backward(problem, out, dOut, dqkv, dqkv.buffer, problem.kLayout.off, problem.vOff);
    return [dqkv];
  });
}

interface Forward {
  out: Tensor;
  /** Log-sum-exp per query row, for the backward. */
  lse: Tensor;
}

function params(p: Problem, dkOff: number, dvOff: number) {
  const { qLayout: q, kLayout: k, oLayout: o } = p;
  const scale = p.opts.scale ?? 1 / Math.sqrt(p.headDim);
  return {
    sq: p.sq,
    sk: p.sk,
    bh: p.batch * p.heads,
    heads: p.heads,
    scale,
    scale_log2: scale * Math.LOG2E,
    q_off: q.off,
    q_rs: q.row,
    q_hs: q.head,
    q_bs: q.batch,
    k_off: k.off,
    v_off: p.vOff,
    kv_rs: k.row,
    kv_hs: k.head,
    kv_bs: k.batch,
    dk_off: dkOff,
    dv_off: dvOff,
    o_rs: o.row,
    o_hs: o.head,
    o_bs: o.batch,
    has_mask: p.opts.keyMask ? 1 : 0,
  };
}

function constants(p: Problem, r: number, seq: number) {
  const rows = attentionThreads(p.q.gpu.kernelTarget, seq, r);
  return { ROWS: rows, TILE: tileRows(p.q.gpu, p.headDim, r, rows) };
}

/**
 * Threads per workgroup for `seq` rows at `r` rows a thread. On a GPU, ROWS. A CPU adapter runs
 * every thread of a workgroup through all its row sets, real rows or not: there, as many
 * workgroups as ROWS threads would take, each no wider (in multiples of 4, SwiftShader's SIMD
 * width) than covers seq. At 257 rows and 4 a thread that is 2 workgroups of 144 rows, not of 256
 * (the second with one real row).
 */
export function attentionThreads(target: KernelTarget, seq: number, r: number): number {
  if (target === "gpu") return ROWS;
  const blocks = ceilDiv(seq, r * ROWS);
  return 4 * ceilDiv(ceilDiv(seq, r * blocks), 4);
}

function run(p: Problem): Forward {
  const gpu = p.q.gpu;
  const bh = p.batch * p.heads;
  const [gy, gz] = grid1d(bh, 1);
  const out = Tensor.empty(gpu, p.outShape);
  const lse = Tensor.empty(gpu, [bh * p.sq]);
  const kernels = attentionKernels(p.headDim, aligned(p), p.q.gpu.kernelTarget);
  const forward = constants(p, kernels.rq, p.sq);
  gpu.dispatch({
    kernel: kernels.forward,
    constants: forward,
    params: params(p, 0, 0),
    buffers: {
      q: p.q.binding,
      k: p.k.binding,
      v: p.v.binding,
      key_mask: p.opts.keyMask?.binding ?? gpu.dummy,
      out: out.binding,
      out_lse: lse.binding,
    },
    workgroups: [ceilDiv(p.sq, forward.ROWS * kernels.rq), gy, gz],
  });
  return { out, lse };
}

/** Writes dq (q's layout) and dk, dv into dkv at dkOff and dvOff elements, with k's strides. */
function backward(
  p: Problem,
  fwd: Forward,
  dOut: Tensor,
  dq: Tensor,
  dkv: GPUBuffer,
  dkOff: number,
  dvOff: number,
): void {
  const gpu = p.q.gpu;
  const bh = p.batch * p.heads;
  const [gy, gz] = grid1d(bh, 1);
  const all = params(p, dkOff, dvOff);
  const stats = Tensor.empty(gpu, [bh * p.sq, 2]); // (L, rowsum(dO * O)) per query row
  const kernels = attentionKernels(p.headDim, aligned(p, dkOff, dvOff), p.q.gpu.kernelTarget);
  gpu.dispatch({
    kernel: kernels.delta,
    params: all,
    buffers: {
      delta_o: fwd.out.binding,
      delta_do: dOut.binding,
      delta_lse: fwd.lse.binding,
      delta_stats: stats.binding,
    },
    workgroups: grid1d(bh * p.sq),
  });
  const common = {
    q: p.q.binding,
    k: p.k.binding,
    v: p.v.binding,
    key_mask: p.opts.keyMask?.binding ?? gpu.dummy,
    stats: stats.binding,
    d_o: dOut.binding,
  };
  const byKey = constants(p, kernels.rk, p.sk);
  gpu.dispatch({
    kernel: kernels.dkv,
    constants: byKey,
    params: all,
    buffers: { ...common, dkv: { buffer: dkv } },
    workgroups: [ceilDiv(p.sk, byKey.ROWS * kernels.rk), gy, gz],
  });
  const byQuery = constants(p, kernels.rq, p.sq);
  gpu.dispatch({
    kernel: kernels.dq,
    constants: byQuery,
    params: all,
    buffers: { ...common, dq: dq.binding },
    workgroups: [ceilDiv(p.sq, byQuery.ROWS * kernels.rq), gy, gz],
  });
  stats.dispose();
}
