// Sinkhorn-Knopp targets for self-distillation (DINOv2's centring): from teacher logits t [R, K],
// the doubly normalised q = diag(a) exp(t / tau) diag(b) whose rows each sum to 1 and whose
// columns (prototypes) each get the same mass, found by alternately normalising columns and rows.
// It works in the log domain and writes log q, so the distillation loss reads it as logits:
// softmax(log q) = q. Equipartition is what keeps a young teacher's targets from going uniform:
// a batch whose rows are almost alike still spreads over the prototypes.
// Entries, in order: init (log q = t / tau), then `iterations` times columns and rows.

#include flat_index
#include block_reduce

override THREADS: u32 = 256u;  // rows: a power of two, 4 to 256 (src/ops/rows.ts)

struct Params {
  rows: u32,
  k: u32,
  inv_tau: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> out_init: array<f32>;

@compute @workgroup_size(WG)
fn init(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  if (i >= p.rows * p.k) { return; }
  out_init[i] = logits[i] * p.inv_tau;
}

@group(0) @binding(1) var<storage, read_write> lq: array<f32>;

// Running log-sum-exp as (max, sum of exp(x - max)).
fn lse_add(a: vec2f, x: f32) -> vec2f {
  let m = max(a.x, x);
  return vec2f(m, a.y * exp(a.x - m) + exp(x - m));
}

// One thread per prototype: log q[:, c] -= log sum_r q[r, c] (neighbouring threads read
// neighbouring columns, so each row's loads coalesce).
@compute @workgroup_size(64)
fn columns(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.k) { return; }
  var acc = vec2f(-3.0e38, 0.0);
  for (var r = 0u; r < p.rows; r++) { acc = lse_add(acc, lq[r * p.k + c]); }
  let lse = acc.x + log(acc.y);
  for (var r = 0u; r < p.rows; r++) { lq[r * p.k + c] -= lse; }
}

// One workgroup per row: log q[r, :] -= log sum_c q[r, c].
@compute @workgroup_size(THREADS)
fn rows(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let r = wg.y * nwg.x + wg.x;  // uniform: whole workgroups skip together
  if (r >= p.rows) { return; }
  let base = r * p.k;
  var m = -3.0e38;
  for (var c = lid.x; c < p.k; c += THREADS) { m = max(m, lq[base + c]); }
  m = block_max(vec4f(m), lid.x).x;
  var s = 0.0;
  for (var c = lid.x; c < p.k; c += THREADS) { s += exp(lq[base + c] - m); }
  let lse = m + log(block_sum(vec4f(s), lid.x).x);
  for (var c = lid.x; c < p.k; c += THREADS) { lq[base + c] -= lse; }
}
