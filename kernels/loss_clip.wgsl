// Symmetric CLIP loss on a B x B similarity matrix S = img @ txt^T of L2-normalised embeddings,
// with logits t*S where t = exp(log_scale) is learned:
//   L = 1/(2B) * sum_i [ (lse_row_i - t S_ii) + (lse_col_i - t S_ii) ].
// Entry points: lse (one workgroup per row or per column of t*S), total (one workgroup),
// grad (dS elementwise), grad_scale (one workgroup: dL/d log_scale). lse, total and grad_scale
// run THREADS per workgroup (4 to 256, sized by the op to the B or B^2 values they reduce).

#include flat_index
#include block_reduce

override COLUMNS: bool = false;  // lse over columns instead of rows
override THREADS: u32 = 256u;    // a power of two, 4 to 256 (src/ops/rows.ts)

struct Params {
  b: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> sim: array<f32>;

fn at(line: u32, k: u32) -> f32 {
  if (COLUMNS) { return sim[k * p.b + line]; }
  return sim[line * p.b + k];
}
@group(0) @binding(2) var<storage, read> log_scale: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse_out: array<f32>;

@compute @workgroup_size(THREADS)
fn lse(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let line = wg.x;
  let t = exp(log_scale[0]);
  var m = -3.0e38;
  for (var k = lid.x; k < p.b; k += THREADS) { m = max(m, t * at(line, k)); }
  m = block_max(vec4f(m), lid.x).x;
  var s = 0.0;
  for (var k = lid.x; k < p.b; k += THREADS) { s += exp(t * at(line, k) - m); }
  s = block_sum(vec4f(s), lid.x).x;
  if (lid.x == 0u) { lse_out[line] = m + log(s); }
}

@group(0) @binding(1) var<storage, read> sim_t: array<f32>;
@group(0) @binding(2) var<storage, read> log_scale_t: array<f32>;
@group(0) @binding(3) var<storage, read> lse_rows: array<f32>;
@group(0) @binding(4) var<storage, read> lse_cols: array<f32>;
@group(0) @binding(5) var<storage, read_write> loss: array<f32>;

@compute @workgroup_size(THREADS)
fn total(@builtin(local_invocation_id) lid: vec3u) {
  let t = exp(log_scale_t[0]);
  var s = 0.0;
  for (var i = lid.x; i < p.b; i += THREADS) {
    s += lse_rows[i] + lse_cols[i] - 2.0 * t * sim_t[i * p.b + i];
  }
  s = block_sum(vec4f(s), lid.x).x;
  if (lid.x == 0u) { loss[0] = s / (2.0 * f32(p.b)); }
}

// dL/dS_ij = dL * t/(2B) * (softmax_row_i(j) + softmax_col_j(i) - 2[i==j]);
// the same bracket times S_ij, summed, gives dL/dt; dL/dlog_scale = t * dL/dt.
@group(0) @binding(1) var<storage, read> sim_g: array<f32>;
@group(0) @binding(2) var<storage, read> log_scale_g: array<f32>;
@group(0) @binding(3) var<storage, read> lse_rows_g: array<f32>;
@group(0) @binding(4) var<storage, read> lse_cols_g: array<f32>;
@group(0) @binding(5) var<storage, read> dloss: array<f32>;
@group(0) @binding(6) var<storage, read_write> dsim: array<f32>;

fn bracket(i: u32, j: u32, t: f32, s: f32) -> f32 {
  let pr = exp(t * s - lse_rows_g[i]);
  let pc = exp(t * s - lse_cols_g[j]);
  return pr + pc - select(0.0, 2.0, i == j);
}

@compute @workgroup_size(WG)
fn grad(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let idx = flat_index(wg, nwg, lid.x);
  if (idx >= p.b * p.b) { return; }
  let i = idx / p.b;
  let j = idx - i * p.b;
  let t = exp(log_scale_g[0]);
  dsim[idx] = dloss[0] * t / (2.0 * f32(p.b)) * bracket(i, j, t, sim_g[idx]);
}

@group(0) @binding(6) var<storage, read_write> dlog_scale: array<f32>;

@compute @workgroup_size(THREADS)
fn grad_scale(@builtin(local_invocation_id) lid: vec3u) {
  let t = exp(log_scale_g[0]);
  var s = 0.0;
  for (var idx = lid.x; idx < p.b * p.b; idx += THREADS) {
    let i = idx / p.b;
    let j = idx - i * p.b;
    s += bracket(i, j, t, sim_g[idx]) * sim_g[idx];
  }
  s = block_sum(vec4f(s), lid.x).x;
  if (lid.x == 0u) { dlog_scale[0] = dloss[0] * t * s / (2.0 * f32(p.b)); }
}
