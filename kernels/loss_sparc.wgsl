// SPARC (arXiv 2401.09865): fine-grained alignment of caption tokens with image patches.
//
// weights / weights_backward: one workgroup per row s of token-patch similarities (P values):
//   m = min_j s_j, r = max_j s_j - m, u_j = (s_j - m) / r (min-max normalised),
//   keep_j = u_j >= threshold (1/P), a_j = keep_j u_j / Z, Z = sum_j keep_j u_j.
// The argmax has u = 1 >= 1/P, so Z >= 1. A constant row (r = 0: a padding token, whose
// embedding is zero) gets uniform weights and no gradient. The keep mask is piecewise constant
// (no gradient through the threshold); r cancels out of a, so with g = dL/da:
//   dL/ds_j = keep_j (g_j - <g, a>) / (Z r),  and the argmin (u = 0, never kept) also gets
//   -sum_j keep_j (g_j - <g, a>) / (Z r)  through m.
// Both kernels fuse the row's three passes (min/max, normaliser, weights) so a row is read from
// memory a few times in one dispatch, instead of six elementwise and reduction dispatches each
// writing a [rows, P] intermediate.
//
// fine_lse / fine_total / fine_grad: the per-sample symmetric contrastive loss between the
// tokens and their language-grouped vision embeddings, F[b, r, c] = <token_r, grouped_c>:
//   L = 1/B sum_b 1/(2 n_b) sum_{r real} [ lse_{c real}(F[b,r,c]/tau) - F[b,r,r]/tau
//                                        + lse_{c real}(F[b,c,r]/tau) - F[b,r,r]/tau ]
// over the n_b real (unpadded) tokens of sample b; a sample without tokens adds 0.

#include workgroup
#include block_reduce

override THREADS: u32 = 256u;  // a power of two, 4 to 256 (src/ops/rows.ts)
override COLUMNS: bool = false;  // fine_lse over columns (grouped -> tokens) instead of rows

struct Params {
  rows: u32,      // weights: rows of S; fine: B
  cols: u32,      // weights: P; fine: L
  scalar: f32,    // weights: the keep threshold; fine: 1 / tau
}

@group(0) @binding(0) var<uniform> p: Params;

// (min, argmin, max, -) over the workgroup, in lib/block_reduce.wgsl's tree; ties in the min go to
// the lower index.
fn tree_min_max(lid: u32, v: vec4f) -> vec4f {
  block_tree[lid] = v;
  workgroupBarrier();
  for (var s = THREADS / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let a = block_tree[lid];
      let b = block_tree[lid + s];
      let take_b = b.x < a.x || (b.x == a.x && b.y < a.y);
      block_tree[lid] = vec4f(select(a.xy, b.xy, take_b), max(a.z, b.z), 0.0);
    }
    workgroupBarrier();
  }
  let r = block_tree[0];
  workgroupBarrier();
  return r;
}

fn row_of(wg: vec3u, nwg: vec3u) -> u32 {
  return wg.y * nwg.x + wg.x;
}

@group(0) @binding(1) var<storage, read> sim: array<f32>;
@group(0) @binding(2) var<storage, read_write> weights_out: array<f32>;
// Per row: (m, r, Z, argmin) for the backward.
@group(0) @binding(3) var<storage, read_write> stats_out: array<vec4f>;

@compute @workgroup_size(THREADS)
fn weights(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let row = row_of(wg, nwg);  // uniform: whole workgroups skip together
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  var acc = vec4f(3.0e38, 0.0, -3.0e38, 0.0);
  for (var j = lid; j < p.cols; j += THREADS) {
    let s = sim[base + j];
    if (s < acc.x) { acc = vec4f(s, f32(j), acc.z, 0.0); }
    acc.z = max(acc.z, s);
  }
  let mm = tree_min_max(lid, acc);
  let m = mm.x;
  let r = mm.z - m;
  let flat = r <= 0.0;
  // Every thread reaches the barriers of block_sum, constant rows included.
  var z = 0.0;
  for (var j = lid; j < p.cols; j += THREADS) {
    let u = (sim[base + j] - m) / r;
    if (!flat && u >= p.scalar) { z += u; }
  }
  z = block_sum(vec4f(z, 0.0, 0.0, 0.0), lid).x;
  for (var j = lid; j < p.cols; j += THREADS) {
    let u = (sim[base + j] - m) / r;
    weights_out[base + j] = select(select(0.0, u / z, u >= p.scalar), 1.0 / f32(p.cols), flat);
  }
  if (lid == 0u) { stats_out[row] = vec4f(m, select(r, 0.0, flat), select(z, 1.0, flat), mm.y); }
}

@group(0) @binding(1) var<storage, read> weights_b: array<f32>;
@group(0) @binding(2) var<storage, read> stats_b: array<vec4f>;
@group(0) @binding(3) var<storage, read> dweights: array<f32>;
@group(0) @binding(4) var<storage, read_write> dsim: array<f32>;

// A weight is positive exactly where the forward kept the patch (kept patches have u > 0).
@compute @workgroup_size(THREADS)
fn weights_backward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_index) lid: u32) {
  let row = row_of(wg, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let st = stats_b[row];
  let flat = st.y <= 0.0;
  // (<g, a>, sum of kept g, kept count)
  var acc = vec4f(0.0);
  for (var j = lid; j < p.cols; j += THREADS) {
    let a = weights_b[base + j];
    let g = dweights[base + j];
    if (a > 0.0) { acc += vec4f(g * a, g, 1.0, 0.0); }
  }
  acc = block_sum(acc, lid);
  let inv = 1.0 / (st.z * st.y);
  let argmin = u32(st.w);
  let through_min = -(acc.y - acc.z * acc.x) * inv;
  for (var j = lid; j < p.cols; j += THREADS) {
    var d = 0.0;
    if (weights_b[base + j] > 0.0) { d = (dweights[base + j] - acc.x) * inv; }
    if (j == argmin) { d += through_min; }
    dsim[base + j] = select(d, 0.0, flat);
  }
}

// ---- the fine-grained contrastive loss ----

@group(0) @binding(1) var<storage, read> fine: array<f32>;       // [B, L, L]
@group(0) @binding(2) var<storage, read> token_mask: array<f32>;  // [B, L], 1 = real token
@group(0) @binding(3) var<storage, read_write> lse_out: array<f32>;  // [B, L]

fn fine_at(b: u32, line: u32, k: u32) -> f32 {
  let l = p.cols;
  if (COLUMNS) { return fine[(b * l + k) * l + line]; }
  return fine[(b * l + line) * l + k];
}

// One workgroup per (sample, token); padded tokens get 0 (never read).
@compute @workgroup_size(THREADS)
fn fine_lse(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let g = row_of(wg, nwg);
  if (g >= p.rows * p.cols) { return; }
  let b = g / p.cols;
  let line = g - b * p.cols;
  var m = -3.0e38;
  for (var k = lid; k < p.cols; k += THREADS) {
    if (token_mask[b * p.cols + k] > 0.0) { m = max(m, fine_at(b, line, k) * p.scalar); }
  }
  m = tree_min_max(lid, vec4f(3.0e38, 0.0, m, 0.0)).z;
  var s = 0.0;
  for (var k = lid; k < p.cols; k += THREADS) {
    if (token_mask[b * p.cols + k] > 0.0) { s += exp(fine_at(b, line, k) * p.scalar - m); }
  }
  s = block_sum(vec4f(s, 0.0, 0.0, 0.0), lid).x;
  if (lid == 0u) { lse_out[g] = select(0.0, m + log(s), token_mask[g] > 0.0); }
}

@group(0) @binding(1) var<storage, read> fine_t: array<f32>;
@group(0) @binding(2) var<storage, read> mask_t: array<f32>;
@group(0) @binding(3) var<storage, read> counts_t: array<f32>;  // [B] real tokens per sample
@group(0) @binding(4) var<storage, read> lse_rows_t: array<f32>;
@group(0) @binding(5) var<storage, read> lse_cols_t: array<f32>;
@group(0) @binding(6) var<storage, read_write> loss: array<f32>;

@compute @workgroup_size(THREADS)
fn fine_total(@builtin(local_invocation_index) lid: u32) {
  let l = p.cols;
  var s = 0.0;
  for (var g = lid; g < p.rows * l; g += THREADS) {
    if (mask_t[g] > 0.0) {
      let b = g / l;
      let r = g - b * l;
      let diag = fine_t[(b * l + r) * l + r] * p.scalar;
      s += (lse_rows_t[g] + lse_cols_t[g] - 2.0 * diag) / (2.0 * counts_t[b]);
    }
  }
  s = block_sum(vec4f(s, 0.0, 0.0, 0.0), lid).x;
  if (lid == 0u) { loss[0] = s / f32(p.rows); }
}

@group(0) @binding(1) var<storage, read> fine_g: array<f32>;
@group(0) @binding(2) var<storage, read> mask_g: array<f32>;
@group(0) @binding(3) var<storage, read> counts_g: array<f32>;
@group(0) @binding(4) var<storage, read> lse_rows_g: array<f32>;
@group(0) @binding(5) var<storage, read> lse_cols_g: array<f32>;
@group(0) @binding(6) var<storage, read> dloss: array<f32>;
@group(0) @binding(7) var<storage, read_write> dfine: array<f32>;

// dL/dF[b,r,c] = dL / (2 n_b B tau) * (softmax_row_r(c) + softmax_col_c(r) - 2[r == c]) where
// both tokens are real, else 0.
@compute @workgroup_size(WG)
fn fine_grad(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let idx = row_of(wg, nwg) * WG + lid;
  let l = p.cols;
  if (idx >= p.rows * l * l) { return; }
  let b = idx / (l * l);
  let r = (idx / l) % l;
  let c = idx % l;
  let gr = b * l + r;
  let gc = b * l + c;
  if (mask_g[gr] <= 0.0 || mask_g[gc] <= 0.0) {
    dfine[idx] = 0.0;
    return;
  }
  let x = fine_g[idx] * p.scalar;
  let bracket = exp(x - lse_rows_g[gr]) + exp(x - lse_cols_g[gc]) - select(0.0, 2.0, r == c);
  dfine[idx] = dloss[0] * p.scalar / (2.0 * counts_g[b] * f32(p.rows)) * bracket;
}
