// attention: softmax(q k^T * scale, key mask) v per (batch, head), fused: the forward never
// stores the score matrix, the backward recomputes it block by block from q, k and the saved
// log-sum-exp. Two entry points share the kernels, which take each operand's layout as strides:
// - attention(q, k, v): q [B, H, Sq, Dh]; k, v [B, H, Sk, Dh]; out [B, H, Sq, Dh];
// - selfAttention(qkv, heads): q, k, v read straight from a packed projection [B, S, 3 * H * Dh]
//   (rows [q | k | v], each head-major), out written merged as [B, S, H * Dh], and the gradient
//   written into one [B, S, 3 * H * Dh] tensor: no head split or merge copies either way.
import code from "../../kernels/attention.wgsl?raw";
import type { Gpu } from "../gpu/gpu";
import { ceilDiv, f32, grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { shapeString, Tensor } from "../tensor/tensor";

const forwardKernel = kernel("attention.forward", code, "forward");
const deltaKernel = kernel("attention.delta", code, "delta");
const dkvKernel = kernel("attention.backward_dkv", code, "backward_dkv");
const dqKernel = kernel("attention.backward_dq", code, "backward_dq");

/** Rows owned by one workgroup (one per thread). */
const ROWS = 64;
/** The kernels hold a row in registers as at most 32 vec4s. */
export const MAX_HEAD_DIM = 128;

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
function tileRows(gpu: Gpu, headDim: number): number {
  const vec4s = Math.ceil(headDim / 4);
  const limit = gpu.device.limits.maxComputeWorkgroupStorageSize;
  for (const tile of [32, 16]) {
    if (2 * tile * vec4s * 16 + tile * 4 + tile * ROWS * 4 <= limit) return tile;
  }
  return 8; // fits WebGPU's 16 KiB minimum for any head dim up to MAX_HEAD_DIM
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
  return [
    p.sq,
    p.sk,
    p.batch * p.heads,
    p.heads,
    f32(p.opts.scale ?? 1 / Math.sqrt(p.headDim)),
    q.off,
    q.row,
    q.head,
    q.batch,
    k.off,
    p.vOff,
    k.row,
    k.head,
    k.batch,
    dkOff,
    dvOff,
    o.row,
    o.head,
    o.batch,
  ];
}

function constants(p: Problem) {
  return { DH: p.headDim, ROWS, TILE: tileRows(p.q.gpu, p.headDim), HAS_MASK: p.opts.keyMask ? 1 : 0 };
}

function run(p: Problem): Forward {
  const gpu = p.q.gpu;
  const bh = p.batch * p.heads;
  const [gy, gz] = grid1d(bh, 1);
  const out = Tensor.empty(gpu, p.outShape);
  const lse = Tensor.empty(gpu, [bh * p.sq]);
  gpu.dispatch({
    kernel: forwardKernel,
    constants: constants(p),
    params: params(p, 0, 0),
    buffers: [
      p.q.binding,
      p.k.binding,
      p.v.binding,
      p.opts.keyMask?.binding ?? gpu.dummy,
      out.binding,
      lse.binding,
    ],
    workgroups: [ceilDiv(p.sq, ROWS), gy, gz],
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
  gpu.dispatch({
    kernel: deltaKernel,
    constants: { DH: p.headDim },
    params: all,
    buffers: [fwd.out.binding, dOut.binding, fwd.lse.binding, stats.binding],
    workgroups: grid1d(bh * p.sq, 256),
  });
  const mask = p.opts.keyMask?.binding ?? gpu.dummy;
  const common = [p.q.binding, p.k.binding, p.v.binding, mask, stats.binding, dOut.binding];
  gpu.dispatch({
    kernel: dkvKernel,
    constants: constants(p),
    params: all,
    buffers: [...common, { buffer: dkv }],
    workgroups: [ceilDiv(p.sk, ROWS), gy, gz],
  });
  gpu.dispatch({
    kernel: dqKernel,
    constants: constants(p),
    params: all,
    buffers: [...common, dq.binding],
    workgroups: [ceilDiv(p.sq, ROWS), gy, gz],
  });
  stats.dispose();
}
