// attention(q, k, v): softmax(q k^T * scale, key mask) v per (batch, head), fused: the forward
// never stores the score matrix, the backward recomputes it block by block from q, k and the
// saved log-sum-exp. q: [B, H, Sq, Dh]; k, v: [B, H, Sk, Dh]; out: [B, H, Sq, Dh].
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

/** Rows per staged block: the largest that fits the forward's workgroup memory. */
function tileRows(gpu: Gpu, headDim: number): number {
  const vec4s = Math.ceil(headDim / 4);
  const limit = gpu.device.limits.maxComputeWorkgroupStorageSize;
  for (const tile of [32, 16]) {
    if (2 * tile * vec4s * 16 + tile * 4 + tile * ROWS * 4 <= limit) return tile;
  }
  return 8; // fits WebGPU's 16 KiB minimum for any head dim up to MAX_HEAD_DIM
}

export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const [batch, heads, sq, headDim] = q.shape;
  const sk = k.shape[2];
  const same = (a: readonly number[], b: readonly number[]) =>
    a.length === b.length && a.every((x, i) => x === b[i]);
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
  const mask = opts.keyMask;
  if (mask && (mask.dtype === "f32" || !same(mask.shape, [batch, sk]))) {
    throw new Error(`attention: keyMask must be u32 or i32 [${batch}, ${sk}], got ${mask.describe()}`);
  }
  const gpu = q.gpu;
  const bh = batch * heads;
  const params = [sq, sk, bh, heads, f32(opts.scale ?? 1 / Math.sqrt(headDim))];
  const constants = { DH: headDim, ROWS, TILE: tileRows(gpu, headDim), HAS_MASK: mask ? 1 : 0 };
  const maskBinding = mask ? mask.binding : gpu.dummy;
  const [gy, gz] = grid1d(bh, 1);
  const out = Tensor.empty(gpu, q.shape);
  const lse = Tensor.empty(gpu, [bh * sq]); // log-sum-exp per query row, for the backward
  gpu.dispatch({
    kernel: forwardKernel,
    constants,
    params,
    buffers: [q.binding, k.binding, v.binding, maskBinding, out.binding, lse.binding],
    workgroups: [ceilDiv(sq, ROWS), gy, gz],
  });
  return record("attention", [q, k, v], out, (dOut) => {
    const dq = Tensor.empty(gpu, q.shape);
    const dk = Tensor.empty(gpu, k.shape);
    const dv = Tensor.empty(gpu, v.shape);
    const stats = Tensor.empty(gpu, [bh * sq, 2]); // (L, rowsum(dO * O)) per query row
    gpu.dispatch({
      kernel: deltaKernel,
      constants: { DH: headDim },
      params,
      buffers: [out.binding, dOut.binding, lse.binding, stats.binding],
      workgroups: grid1d(bh * sq, 256),
    });
    const common = [q.binding, k.binding, v.binding, maskBinding, stats.binding, dOut.binding];
    gpu.dispatch({
      kernel: dkvKernel,
      constants,
      params,
      buffers: [...common, dk.binding, dv.binding],
      workgroups: [ceilDiv(sk, ROWS), gy, gz],
    });
    gpu.dispatch({
      kernel: dqKernel,
      constants,
      params,
      buffers: [...common, dq.binding],
      workgroups: [ceilDiv(sq, ROWS), gy, gz],
    });
    stats.dispose();
    return [dq, dk, dv];
  });
}
