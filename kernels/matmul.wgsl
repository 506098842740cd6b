// Register-tiled matmul: C[z] = act(op(A[z]) @ op(B[z]) + bias), op(X) = X or X^T by override
// (the loads do the index math; no transpose is materialised). Includes lib/activation.wgsl.
// Two entry points share the loads and the epilogue: `main`, tiled in workgroup memory, which GPUs
// run, and `direct`, which reads storage only, for CPU adapters (Gpu.kernelTarget "cpu").
//
// Why two: on SwiftShader (a CPU adapter, what Chrome gives a machine without a usable GPU) a
// read of workgroup memory costs several times a read of storage, and a barrier makes each
// workgroup a set of coroutines. `main` spends 3x the time of `direct` at 258 x 384 x 1536 for the
// same 8 x 8 outputs a thread and the same reads per FMA (docs/performance.md). On a GPU the
// tiles are what make the product fast (every element of a staged tile is read by a whole row of
// threads from on-chip memory), so GPUs keep `main`: `direct` changes nothing on a GPU.
//
// `main`: a workgroup of WG_N x WG_M threads computes a BM x BN tile of C (BM = 8 WG_M, BN = 8 WG_N).
// Each thread owns 8 x 8 outputs, 16 vec4 accumulators indexed only by constants (so they stay
// in registers): rows 4 ty .. 4 ty + 3 and BM/2 + 4 ty .. BM/2 + 4 ty + 3, columns likewise, so
// that neighbouring threads read neighbouring vec4s of the staged tiles. K is walked in slabs of
// BK held in workgroup memory as [k][m] and [k][n] (vec4 fragment reads), in two stages: the next
// slab is fetched into registers while the current one is multiplied, then stored into the other
// stage, with one barrier per slab. Every global read and write is bounds-checked (a read past an
// edge is zero, by select), so any M, N, K work; K = 0 gives act(bias).
//
// Each operand is read in quads of 4 elements along its contiguous axis (a_quad, b_quad, with
// `alias AElem`, `BElem`, written by src/ops/matmul.ts): as one vec4 load with one bounds check
// where that axis's length, the batch stride and the offset are multiples of 4 (a quad then never
// straddles the edge), else as 4 checked f32 loads. On a GPU the vec4 path is a quarter of the
// load instructions and 16-byte transactions (gpu.cpp's WGSL matmul gained about 1.5x from it).
//
// ROW_SUMS (a Linear's bias gradient beside its weight gradient, dW = dY^T X): the threads of
// the first column of workgroups also sum the rows of op(A) = dY^T as its slabs pass through
// the tile, and write them to `pre` (as [M]; with `accumulate`, added). It costs those threads two
// vec4 adds per k and spares a separate reduction of dY. One batch (wg.z = 0) only.
//
// `activation_grad` (the step back through an activation, fused into the product that makes its
// output's gradient: dZ = (dY W) * act'(Z)): each output is multiplied by act'(pre[m, n]), with
// `pre` holding Z. It spares a separate elementwise pass over dZ, one write and two reads of it.
//
// B_ACTIVATION (the weight gradient of a Linear that reads an activation's output, dW2 = dY^T
// act(Z1)): B's elements pass through act() as the tiles load them, so the forward keeps Z1 only,
// not act(Z1) too: one tensor of the block's widest shape less held from the forward to the
// backward, for a few activations per loaded element (each workgroup along M loads them again).
//
// A_NORM, B_NORM (a Linear reading a layernorm's output, y = LN(x) W^T, and its weight gradient
// dW = dY^T LN(x)): the operand holds x, untransposed, and each element is normalised as the
// tiles load it, from the rows' saved mean and rstd and the layernorm's weight and bias, by the
// layernorm kernel's own expression. LN(x), as large as x, is then never written: the forward
// keeps x (the residual stream, kept anyway) and the statistics. On a GPU that is one write and
// two reads of LN(x) fewer per layernorm, for two loads and an FMA per loaded element.
//
// On a CPU adapter (the direct kernel) B's layernorm and activation are written out by b_loaded
// just before the product, a tensor held for one dispatch: there a thread per 8 rows of C would
// apply them, M / 8 times over each element.

#include flat_index
#include activation

struct Params {
  m: u32,
  n: u32,
  k: u32,
  a_batch_stride: u32,   // elements between batches of A; 0 when one A is shared by all
  b_batch_stride: u32,
  // The epilogue's choices are parameters, not override constants: they act once per output,
  // on a uniform branch, and one pipeline serves every epilogue (fewer pipelines to compile
  // before a model's first step).
  has_bias: u32,
  activation: u32,        // activation code of lib/activation.wgsl, applied after the bias
  keep_pre: u32,          // pre = the product before the activation
  accumulate: u32,        // C += result (gradients summed in place)
  activation_grad: u32,   // C = result * act'(pre), by activation code (see the header)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<AElem>;        // [M, K], or [K, M] if TRANS_A
@group(0) @binding(2) var<storage, read> b: array<BElem>;        // [K, N], or [N, K] if TRANS_B
@group(0) @binding(3) var<storage, read> bias: array<f32>;       // [N] if has_bias
@group(0) @binding(4) var<storage, read_write> c: array<f32>;    // [M, N]
@group(0) @binding(5) var<storage, read_write> pre: array<f32>;  // [M, N] before act, if keep_pre or activation_grad; [M] if ROW_SUMS
@group(0) @binding(6) var<storage, read> norm_stats: array<f32>;   // A_NORM: [M, 2], B_NORM: [K, 2] (mean, rstd)
@group(0) @binding(7) var<storage, read> norm_weight: array<f32>;  // A_NORM: [K], B_NORM: [N]
@group(0) @binding(8) var<storage, read> norm_bias: array<f32>;

override WG_M: u32 = 16u;   // threads along M
override WG_N: u32 = 16u;   // threads along N
override BK: u32 = 16u;     // K per staged slab
override TRANS_A: bool = false;
override TRANS_B: bool = false;
override ROW_SUMS: bool = false;     // pre[m] = sum_k op(A)[m, k] (see the header)
override B_ACTIVATION: u32 = 0u;     // op(B) = act(B) (see the header)
// A = LN(a), B = LN(b), normalised by norm_* as they load (see the header); a, b untransposed and
// unbatched. Constants, not parameters: a branch on a parameter in the direct kernel's loop costs
// a CPU adapter 4x (it cannot know the branch is uniform).
override A_NORM: bool = false;
override B_NORM: bool = false;

override BM: u32 = 8u * WG_M;
override BN: u32 = 8u * WG_N;
override THREADS: u32 = WG_M * WG_N;
override A_STAGE: u32 = BK * BM / 4u;   // vec4s per stage
override B_STAGE: u32 = BK * BN / 4u;
override A_TILE: u32 = 2u * A_STAGE;
override B_TILE: u32 = 2u * B_STAGE;
override A_QUADS: u32 = A_STAGE / THREADS;   // 4-element loads per thread per slab
override B_QUADS: u32 = B_STAGE / THREADS;
const MAX_QUADS = 4u;

var<workgroup> a_tile: array<vec4f, A_TILE>;   // [stage][k][m / 4]
var<workgroup> b_tile: array<vec4f, B_TILE>;   // [stage][k][n / 4]

// Elements col .. col + 3 of row `row` of an operand that holds x: LN(x) there, zero past the
// edges (row >= rows, col >= cols), as the layernorm kernel writes y.
fn normalize_quad(v: vec4f, row: u32, rows: u32, col: u32, cols: u32) -> vec4f {
  var y = vec4f(0.0);
  if (row >= rows) { return y; }
  let mean = norm_stats[2u * row];
  let rstd = norm_stats[2u * row + 1u];
  for (var j = 0u; j < 4u; j++) {
    if (col + j < cols) { y[j] = (v[j] - mean) * rstd * norm_weight[col + j] + norm_bias[col + j]; }
  }
  return y;
}

// op(A)'s quad at (m, k) (4 ks of row m, or with TRANS_A rows m .. m + 3 at k), normalised where
// a holds a layernorm's input.
fn load_a(base: u32, m: u32, k: u32) -> vec4f {
  let v = a_quad(base, m, k);
  if (A_NORM) { return normalize_quad(v, m, p.m, k, p.k); }
  return v;
}

// op(B)'s quad at (k, n) (4 columns at k, or with TRANS_B ks k .. k + 3 of column n), normalised
// where b holds a layernorm's input, and through B_ACTIVATION.
fn load_b(base: u32, k: u32, n: u32) -> vec4f {
  var v = b_quad(base, k, n);
  if (B_NORM) { v = normalize_quad(v, k, p.k, n, p.n); }
  if (B_ACTIVATION != 0u) { v = activate_quad(v); }   // act(0) = 0: quads past the edge stay zero
  return v;
}

// Quad q of a slab is 4 consecutive elements along the operand's contiguous axis, and
// consecutive threads take consecutive quads: coalesced reads, conflict-free stores.
fn fetch_a(q: u32, row0: u32, k0: u32, base: u32) -> vec4f {
  if (TRANS_A) {   // 4 rows at one k
    return load_a(base, row0 + 4u * (q % (BM / 4u)), k0 + q / (BM / 4u));
  }
  return load_a(base, row0 + q % BM, k0 + 4u * (q / BM));   // 4 ks of one row
}

fn stash_a(q: u32, stage: u32, v: vec4f) {
  if (TRANS_A) {
    a_tile[stage + q] = v;
    return;
  }
  let r = q % BM;
  let at = stage + (q / BM) * BM + r / 4u;   // [4 (q / BM) + j][r / 4]
  let lane = r % 4u;
  a_tile[at][lane] = v.x;
  a_tile[at + BM / 4u][lane] = v.y;
  a_tile[at + BM / 2u][lane] = v.z;
  a_tile[at + 3u * BM / 4u][lane] = v.w;
}

fn fetch_b(q: u32, col0: u32, k0: u32, base: u32) -> vec4f {
  if (TRANS_B) {   // 4 ks of one column
    return load_b(base, k0 + 4u * (q / BN), col0 + q % BN);
  }
  return load_b(base, k0 + q / (BN / 4u), col0 + 4u * (q % (BN / 4u)));   // 4 columns at one k
}

fn stash_b(q: u32, stage: u32, v: vec4f) {
  if (!TRANS_B) {
    b_tile[stage + q] = v;
    return;
  }
  let r = q % BN;
  let at = stage + (q / BN) * BN + r / 4u;
  let lane = r % 4u;
  b_tile[at][lane] = v.x;
  b_tile[at + BN / 4u][lane] = v.y;
  b_tile[at + BN / 2u][lane] = v.z;
  b_tile[at + 3u * BN / 4u][lane] = v.w;
}

fn bias_at(n: u32) -> f32 {
  if (p.has_bias == 0u || n >= p.n) { return 0.0; }
  return bias[n];
}

fn bias_quad(n: u32) -> vec4f {
  return vec4f(bias_at(n), bias_at(n + 1u), bias_at(n + 2u), bias_at(n + 3u));
}

// Writes 4 outputs of row `m` from column `n` on (bias already added), skipping those outside C.
fn write_quad(row_at: u32, n: u32, v: vec4f) {
  for (var j = 0u; j < 4u; j++) {
    if (n + j < p.n) {
      if (p.keep_pre != 0u) { pre[row_at + n + j] = v[j]; }
      var y = activate(p.activation, v[j]);
      if (p.activation_grad != 0u) { y *= activate_grad(p.activation_grad, pre[row_at + n + j]); }
      if (p.accumulate != 0u) { y += c[row_at + n + j]; }
      c[row_at + n + j] = y;
    }
  }
}

// Writes a thread's 8 outputs of row m: 4 from column n_lo on, 4 from n_hi on.
fn write_row(c_base: u32, m: u32, n_lo: u32, lo: vec4f, n_hi: u32, hi: vec4f) {
  if (m >= p.m) { return; }
  let row_at = c_base + m * p.n;
  write_quad(row_at, n_lo, lo);
  write_quad(row_at, n_hi, hi);
}

// One k of the thread's 8 x 8 outputs: two vec4s of A's column and two of B's row from the
// staged tiles, 64 FMAs into accumulators indexed by constants.
fn outer_product(acc: ptr<function, array<vec4f, 16>>, ra: u32, rb: u32) {
  let a0 = a_tile[ra];
  let a1 = a_tile[ra + WG_M];
  let b0 = b_tile[rb];
  let b1 = b_tile[rb + WG_N];
  (*acc)[0] += a0.x * b0;
  (*acc)[1] += a0.x * b1;
  (*acc)[2] += a0.y * b0;
  (*acc)[3] += a0.y * b1;
  (*acc)[4] += a0.z * b0;
  (*acc)[5] += a0.z * b1;
  (*acc)[6] += a0.w * b0;
  (*acc)[7] += a0.w * b1;
  (*acc)[8] += a1.x * b0;
  (*acc)[9] += a1.x * b1;
  (*acc)[10] += a1.y * b0;
  (*acc)[11] += a1.y * b1;
  (*acc)[12] += a1.z * b0;
  (*acc)[13] += a1.z * b1;
  (*acc)[14] += a1.w * b0;
  (*acc)[15] += a1.w * b1;
}

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) tid: u32) {
  let tx = lid.x;
  let ty = lid.y;
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  let a_base = wg.z * p.a_batch_stride;
  let b_base = wg.z * p.b_batch_stride;

  var acc: array<vec4f, 16>;   // acc[2 i + h]: thread row i, column half h
  var next_a: array<vec4f, MAX_QUADS>;
  var next_b: array<vec4f, MAX_QUADS>;
  let sums_rows = ROW_SUMS && wg.x == 0u && tx == 0u;
  var sum_lo = vec4f(0.0);   // ROW_SUMS: rows 4 ty .. 4 ty + 3
  var sum_hi = vec4f(0.0);   // and BM/2 + 4 ty ..

  for (var i = 0u; i < A_QUADS; i++) {
    let q = i * THREADS + tid;
    stash_a(q, 0u, fetch_a(q, row0, 0u, a_base));
  }
  for (var i = 0u; i < B_QUADS; i++) {
    let q = i * THREADS + tid;
    stash_b(q, 0u, fetch_b(q, col0, 0u, b_base));
  }
  workgroupBarrier();

  let slabs = (p.k + BK - 1u) / BK;
  for (var s = 0u; s < slabs; s++) {
    let more = s + 1u < slabs;
    if (more) {
      let k0 = (s + 1u) * BK;
      for (var i = 0u; i < A_QUADS; i++) { next_a[i] = fetch_a(i * THREADS + tid, row0, k0, a_base); }
      for (var i = 0u; i < B_QUADS; i++) { next_b[i] = fetch_b(i * THREADS + tid, col0, k0, b_base); }
    }

    let sa = (s & 1u) * A_STAGE;
    let sb = (s & 1u) * B_STAGE;
    // Unrolled by 4 (BK is a multiple of 4): Tint does not unroll, and a GPU compiler can then
    // issue the next k's shared-memory reads while the current k's FMAs run.
    for (var kk = 0u; kk < BK; kk += 4u) {
      let ra = sa + kk * (BM / 4u) + ty;
      let rb = sb + kk * (BN / 4u) + tx;
      outer_product(&acc, ra, rb);
      outer_product(&acc, ra + BM / 4u, rb + BN / 4u);
      outer_product(&acc, ra + BM / 2u, rb + BN / 2u);
      outer_product(&acc, ra + 3u * BM / 4u, rb + 3u * BN / 4u);
      if (sums_rows) {
        for (var u = 0u; u < 4u; u++) {
          sum_lo += a_tile[ra + u * (BM / 4u)];
          sum_hi += a_tile[ra + u * (BM / 4u) + WG_M];
        }
      }
    }

    if (more) {
      let other = 1u - (s & 1u);
      for (var i = 0u; i < A_QUADS; i++) { stash_a(i * THREADS + tid, other * A_STAGE, next_a[i]); }
      for (var i = 0u; i < B_QUADS; i++) { stash_b(i * THREADS + tid, other * B_STAGE, next_b[i]); }
    }
    workgroupBarrier();
  }

  let m = row0 + 4u * ty;
  let n = col0 + 4u * tx;
  let nh = n + BN / 2u;
  let bias_lo = bias_quad(n);
  let bias_hi = bias_quad(nh);
  let c_base = wg.z * p.m * p.n;
  let mh = m + BM / 2u;
  write_row(c_base, m, n, acc[0] + bias_lo, nh, acc[1] + bias_hi);
  write_row(c_base, m + 1u, n, acc[2] + bias_lo, nh, acc[3] + bias_hi);
  write_row(c_base, m + 2u, n, acc[4] + bias_lo, nh, acc[5] + bias_hi);
  write_row(c_base, m + 3u, n, acc[6] + bias_lo, nh, acc[7] + bias_hi);
  write_row(c_base, mh, n, acc[8] + bias_lo, nh, acc[9] + bias_hi);
  write_row(c_base, mh + 1u, n, acc[10] + bias_lo, nh, acc[11] + bias_hi);
  write_row(c_base, mh + 2u, n, acc[12] + bias_lo, nh, acc[13] + bias_hi);
  write_row(c_base, mh + 3u, n, acc[14] + bias_lo, nh, acc[15] + bias_hi);
  if (sums_rows) {
    write_row_sums(m, sum_lo);
    write_row_sums(mh, sum_hi);
  }
}

fn write_row_sums(m: u32, v: vec4f) {
  for (var j = 0u; j < 4u; j++) {
    if (m + j < p.m) {
      var s = v[j];
      if (p.accumulate != 0u) { s += pre[m + j]; }
      pre[m + j] = s;
    }
  }
}

// The direct product (entry point `direct`), for CPU adapters (see the header): each thread of a
// DIRECT_WG_N x DIRECT_WG_M workgroup computes an 8 x 8 block of C, rows m0 .. m0 + 7 and columns
// n0 .. n0 + 7, from operand quads read straight from storage, 4 ks at a time, with no workgroup
// memory and no barrier. The loads, the epilogue and ROW_SUMS are the tiled kernel's, and A's
// layernorm on load (hoisted: below). B comes plain: a B loaded through a layernorm or an
// activation is written out first (b_loaded). Only for vec4 quads of both operands:
// src/ops/matmul.ts runs the others tiled.
const DIRECT_WG_M = 4u;
const DIRECT_WG_N = 16u;

// x[r] = op(A)[m0 + r, k .. k + 3], for r = 0 .. 7, as stored (the caller normalises).
fn direct_a(x: ptr<function, array<vec4f, 8>>, base: u32, m0: u32, k: u32) {
  if (TRANS_A) {   // quads run along M: rows m0 .. m0 + 3 and m0 + 4 .. m0 + 7 at each k
    let lo = transpose(mat4x4f(a_quad(base, m0, k), a_quad(base, m0, k + 1u), a_quad(base, m0, k + 2u),
                               a_quad(base, m0, k + 3u)));
    let hi = transpose(mat4x4f(a_quad(base, m0 + 4u, k), a_quad(base, m0 + 4u, k + 1u),
                               a_quad(base, m0 + 4u, k + 2u), a_quad(base, m0 + 4u, k + 3u)));
    (*x)[0] = lo[0];
    (*x)[1] = lo[1];
    (*x)[2] = lo[2];
    (*x)[3] = lo[3];
    (*x)[4] = hi[0];
    (*x)[5] = hi[1];
    (*x)[6] = hi[2];
    (*x)[7] = hi[3];
    return;
  }
  (*x)[0] = a_quad(base, m0, k);
  (*x)[1] = a_quad(base, m0 + 1u, k);
  (*x)[2] = a_quad(base, m0 + 2u, k);
  (*x)[3] = a_quad(base, m0 + 3u, k);
  (*x)[4] = a_quad(base, m0 + 4u, k);
  (*x)[5] = a_quad(base, m0 + 5u, k);
  (*x)[6] = a_quad(base, m0 + 6u, k);
  (*x)[7] = a_quad(base, m0 + 7u, k);
}

// y[2 j + h] = op(B)[k + j, n0 + 4 h .. n0 + 4 h + 3], for j = 0 .. 3 and h = 0, 1, as stored.
fn direct_b(y: ptr<function, array<vec4f, 8>>, base: u32, k: u32, n0: u32) {
  if (TRANS_B) {   // quads run along K: ks k .. k + 3 of columns n0 .. n0 + 3 and n0 + 4 .. n0 + 7
    let lo = transpose(mat4x4f(b_quad(base, k, n0), b_quad(base, k, n0 + 1u), b_quad(base, k, n0 + 2u),
                               b_quad(base, k, n0 + 3u)));
    let hi = transpose(mat4x4f(b_quad(base, k, n0 + 4u), b_quad(base, k, n0 + 5u), b_quad(base, k, n0 + 6u),
                               b_quad(base, k, n0 + 7u)));
    (*y)[0] = lo[0];
    (*y)[1] = hi[0];
    (*y)[2] = lo[1];
    (*y)[3] = hi[1];
    (*y)[4] = lo[2];
    (*y)[5] = hi[2];
    (*y)[6] = lo[3];
    (*y)[7] = hi[3];
    return;
  }
  (*y)[0] = b_quad(base, k, n0);
  (*y)[1] = b_quad(base, k, n0 + 4u);
  (*y)[2] = b_quad(base, k + 1u, n0);
  (*y)[3] = b_quad(base, k + 1u, n0 + 4u);
  (*y)[4] = b_quad(base, k + 2u, n0);
  (*y)[5] = b_quad(base, k + 2u, n0 + 4u);
  (*y)[6] = b_quad(base, k + 3u, n0);
  (*y)[7] = b_quad(base, k + 3u, n0 + 4u);
}

// The direct kernel's layernorm of A on load, without a branch (a branch in its loop costs a CPU
// adapter several times over): statistics, weights and biases past their edge are zero, and are
// read at index 0 there. A row's statistics are the same at every k, so they are read once per
// thread, and a k's weight and bias once per block of 8 rows, not once per element as the tiled
// kernel does. (B's, which every thread along M would repeat, is written out by b_loaded.)

// (mean, rstd) of row r of the normalised operand.
fn norm_stat(r: u32, rows: u32) -> vec2f {
  let inside = r < rows;
  let i = select(0u, 2u * r, inside);
  return select(vec2f(0.0), vec2f(norm_stats[i], norm_stats[i + 1u]), inside);
}

// The layernorm's weight (w) and bias (b) at columns c .. c + 3.
struct NormAffine {
  w: vec4f,
  b: vec4f,
}

fn norm_affine_quad(c: u32, cols: u32) -> NormAffine {
  let i = vec4u(c) + vec4u(0u, 1u, 2u, 3u);
  let inside = i < vec4u(cols);
  let j = select(vec4u(0u), i, inside);
  let w = vec4f(norm_weight[j.x], norm_weight[j.y], norm_weight[j.z], norm_weight[j.w]);
  let b = vec4f(norm_bias[j.x], norm_bias[j.y], norm_bias[j.z], norm_bias[j.w]);
  return NormAffine(select(vec4f(0.0), w, inside), select(vec4f(0.0), b, inside));
}

// A_NORM: x[r] = (x[r] - mean_r) rstd_r w + b, with row r's statistics in (mean, rstd)[r % 4] of
// the lo (r < 4) or hi pair, and w, b the weight and bias at the block's 4 ks.
fn normalize_a_block(x: ptr<function, array<vec4f, 8>>, mean_lo: vec4f, rstd_lo: vec4f, mean_hi: vec4f,
                     rstd_hi: vec4f, wb: NormAffine) {
  (*x)[0] = ((*x)[0] - mean_lo.x) * rstd_lo.x * wb.w + wb.b;
  (*x)[1] = ((*x)[1] - mean_lo.y) * rstd_lo.y * wb.w + wb.b;
  (*x)[2] = ((*x)[2] - mean_lo.z) * rstd_lo.z * wb.w + wb.b;
  (*x)[3] = ((*x)[3] - mean_lo.w) * rstd_lo.w * wb.w + wb.b;
  (*x)[4] = ((*x)[4] - mean_hi.x) * rstd_hi.x * wb.w + wb.b;
  (*x)[5] = ((*x)[5] - mean_hi.y) * rstd_hi.y * wb.w + wb.b;
  (*x)[6] = ((*x)[6] - mean_hi.z) * rstd_hi.z * wb.w + wb.b;
  (*x)[7] = ((*x)[7] - mean_hi.w) * rstd_hi.w * wb.w + wb.b;
}

// B_ACTIVATION on a quad (the tiled kernel's loads of B, and b_loaded).
fn activate_quad(v: vec4f) -> vec4f {
  return vec4f(activate(B_ACTIVATION, v.x), activate(B_ACTIVATION, v.y), activate(B_ACTIVATION, v.z),
               activate(B_ACTIVATION, v.w));
}

// Row x's 4 ks times the 4 rows of B's column half h: one row of outputs' 4 k steps.
fn dot4(x: vec4f, y0: vec4f, y1: vec4f, y2: vec4f, y3: vec4f) -> vec4f {
  return x.x * y0 + x.y * y1 + x.z * y2 + x.w * y3;
}

fn sum4(v: vec4f) -> f32 {
  return v.x + v.y + v.z + v.w;
}

@compute @workgroup_size(DIRECT_WG_N, DIRECT_WG_M)
fn direct(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let m0 = 8u * (wg.y * DIRECT_WG_M + lid.y);
  let n0 = 8u * (wg.x * DIRECT_WG_N + lid.x);
  if (m0 >= p.m || n0 >= p.n) { return; }
  let a_base = wg.z * p.a_batch_stride;
  let b_base = wg.z * p.b_batch_stride;
  let sums_rows = ROW_SUMS && wg.z == 0u && n0 == 0u;

  var acc: array<vec4f, 16>;   // acc[2 r + h]: row m0 + r, columns n0 + 4 h ..
  var sum_lo = vec4f(0.0);     // ROW_SUMS: rows m0 .. m0 + 3
  var sum_hi = vec4f(0.0);     // and m0 + 4 .. m0 + 7
  var x: array<vec4f, 8>;
  var y: array<vec4f, 8>;
  var mean_lo = vec4f(0.0);   // A_NORM: rows m0 .. m0 + 3
  var rstd_lo = vec4f(0.0);
  var mean_hi = vec4f(0.0);   // and m0 + 4 .. m0 + 7
  var rstd_hi = vec4f(0.0);
  if (A_NORM) {
    let r0 = norm_stat(m0, p.m);
    let r1 = norm_stat(m0 + 1u, p.m);
    let r2 = norm_stat(m0 + 2u, p.m);
    let r3 = norm_stat(m0 + 3u, p.m);
    let r4 = norm_stat(m0 + 4u, p.m);
    let r5 = norm_stat(m0 + 5u, p.m);
    let r6 = norm_stat(m0 + 6u, p.m);
    let r7 = norm_stat(m0 + 7u, p.m);
    mean_lo = vec4f(r0.x, r1.x, r2.x, r3.x);
    rstd_lo = vec4f(r0.y, r1.y, r2.y, r3.y);
    mean_hi = vec4f(r4.x, r5.x, r6.x, r7.x);
    rstd_hi = vec4f(r4.y, r5.y, r6.y, r7.y);
  }
  for (var k = 0u; k < p.k; k += 4u) {
    direct_a(&x, a_base, m0, k);
    if (A_NORM) {   // past K, w and b are 0: the ks there stay zero
      normalize_a_block(&x, mean_lo, rstd_lo, mean_hi, rstd_hi, norm_affine_quad(k, p.k));
    }
    direct_b(&y, b_base, k, n0);
    acc[0] += dot4(x[0], y[0], y[2], y[4], y[6]);
    acc[1] += dot4(x[0], y[1], y[3], y[5], y[7]);
    acc[2] += dot4(x[1], y[0], y[2], y[4], y[6]);
    acc[3] += dot4(x[1], y[1], y[3], y[5], y[7]);
    acc[4] += dot4(x[2], y[0], y[2], y[4], y[6]);
    acc[5] += dot4(x[2], y[1], y[3], y[5], y[7]);
    acc[6] += dot4(x[3], y[0], y[2], y[4], y[6]);
    acc[7] += dot4(x[3], y[1], y[3], y[5], y[7]);
    acc[8] += dot4(x[4], y[0], y[2], y[4], y[6]);
    acc[9] += dot4(x[4], y[1], y[3], y[5], y[7]);
    acc[10] += dot4(x[5], y[0], y[2], y[4], y[6]);
    acc[11] += dot4(x[5], y[1], y[3], y[5], y[7]);
    acc[12] += dot4(x[6], y[0], y[2], y[4], y[6]);
    acc[13] += dot4(x[6], y[1], y[3], y[5], y[7]);
    acc[14] += dot4(x[7], y[0], y[2], y[4], y[6]);
    acc[15] += dot4(x[7], y[1], y[3], y[5], y[7]);
    if (ROW_SUMS) {   // every thread sums: a branch on sums_rows here costs a CPU adapter more
      sum_lo += vec4f(sum4(x[0]), sum4(x[1]), sum4(x[2]), sum4(x[3]));
      sum_hi += vec4f(sum4(x[4]), sum4(x[5]), sum4(x[6]), sum4(x[7]));
    }
  }

  let nh = n0 + 4u;
  let bias_lo = bias_quad(n0);
  let bias_hi = bias_quad(nh);
  let c_base = wg.z * p.m * p.n;
  write_row(c_base, m0, n0, acc[0] + bias_lo, nh, acc[1] + bias_hi);
  write_row(c_base, m0 + 1u, n0, acc[2] + bias_lo, nh, acc[3] + bias_hi);
  write_row(c_base, m0 + 2u, n0, acc[4] + bias_lo, nh, acc[5] + bias_hi);
  write_row(c_base, m0 + 3u, n0, acc[6] + bias_lo, nh, acc[7] + bias_hi);
  write_row(c_base, m0 + 4u, n0, acc[8] + bias_lo, nh, acc[9] + bias_hi);
  write_row(c_base, m0 + 5u, n0, acc[10] + bias_lo, nh, acc[11] + bias_hi);
  write_row(c_base, m0 + 6u, n0, acc[12] + bias_lo, nh, acc[13] + bias_hi);
  write_row(c_base, m0 + 7u, n0, acc[14] + bias_lo, nh, acc[15] + bias_hi);
  if (sums_rows) {
    write_row_sums(m0, sum_lo);
    write_row_sums(m0 + 4u, sum_hi);
  }
}

// ---- b_loaded: op(B) written out, for the direct kernel ----

@group(0) @binding(1) var<storage, read> loaded_in: array<vec4f>;     // b as stored, [rows, cols]
@group(0) @binding(2) var<storage, read> loaded_stats: array<f32>;    // B_NORM: [rows, 2] (mean, rstd)
@group(0) @binding(3) var<storage, read> loaded_weight: array<f32>;   // B_NORM: [cols]
@group(0) @binding(4) var<storage, read> loaded_bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> loaded_out: array<vec4f>;

// B's layernorm on load (B_NORM), then its activation (B_ACTIVATION), once per element. In the
// direct kernel every thread along M would repeat them for the elements it loads (M / 8 times
// over: a weight gradient 2-3x slower on a CPU adapter); it reads this as a plain B instead. B as
// stored is [p.k rows, p.n columns] for this pass, in the direct kernel's vec4 quads (p.n % 4 ==
// 0); only B_NORM needs the rows (it takes B untransposed and unbatched). The layernorm is the
// layernorm kernel's expression.
@compute @workgroup_size(WG)
fn b_loaded(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wg, nwg, lid);
  if (4u * i >= p.k * p.n) { return; }
  var v = loaded_in[i];
  if (B_NORM) {
    let row = 4u * i / p.n;
    let c = 4u * i - row * p.n;
    let weight = vec4f(loaded_weight[c], loaded_weight[c + 1u], loaded_weight[c + 2u], loaded_weight[c + 3u]);
    let shift = vec4f(loaded_bias[c], loaded_bias[c + 1u], loaded_bias[c + 2u], loaded_bias[c + 3u]);
    v = (v - loaded_stats[2u * row]) * loaded_stats[2u * row + 1u] * weight + shift;
  }
  if (B_ACTIVATION != 0u) { v = activate_quad(v); }
  loaded_out[i] = v;
}

// dZ = dY * act'(Z), elementwise: the step from the output's gradient to the matmul's.
struct GradParams {
  count: u32,
  activation: u32,
}

@group(0) @binding(0) var<uniform> gp: GradParams;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> z_saved: array<f32>;
@group(0) @binding(3) var<storage, read_write> dz: array<f32>;

@compute @workgroup_size(WG)
fn activation_backward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                       @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  if (i >= gp.count) { return; }
  dz[i] = dy[i] * activate_grad(gp.activation, z_saved[i]);
}
