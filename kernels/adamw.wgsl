// AdamW over every parameter at once (all parameters, gradients and moments are flat slabs with
// one layout), with global gradient-norm clipping and a guard against non-finite gradients, all
// decided on the GPU so the training loop never waits for a readback.
//
// grad_sumsq_partial + grad_sumsq_final: stats[0] = sum of g^2 over the slab, in a fixed order
// (deterministic). adamw: reads stats[0]; if it is NaN/Inf the step is skipped entirely.

#include flat_index

struct Params {
  n: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  bias_correction1: f32,   // 1 - beta1^t
  bias_correction2: f32,   // 1 - beta2^t
  max_norm: f32,           // 0: no clipping
  partials: u32,           // number of partial sums (workgroups of the first pass)
}

@group(0) @binding(0) var<uniform> p: Params;

fn is_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// ---- gradient norm, pass 1: one partial sum of squares per workgroup ----
@group(0) @binding(1) var<storage, read> g_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> partial_out: array<f32>;

var<workgroup> tree: array<f32, WG>;

@compute @workgroup_size(WG)
fn grad_sumsq_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  var acc = 0.0;
  for (var i = wg.x * WG + lid.x; i < p.n; i += p.partials * WG) {
    let x = g_in[i];
    acc += x * x;
  }
  tree[lid.x] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid.x < s) { tree[lid.x] += tree[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { partial_out[wg.x] = tree[0]; }
}

// ---- gradient norm, pass 2: one workgroup adds the partials into stats[0] ----
@group(0) @binding(1) var<storage, read> partial_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats_out: array<f32>;

@compute @workgroup_size(WG)
fn grad_sumsq_final(@builtin(local_invocation_id) lid: vec3u) {
  var acc = 0.0;
  for (var i = lid.x; i < p.partials; i += WG) { acc += partial_in[i]; }
  tree[lid.x] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid.x < s) { tree[lid.x] += tree[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { stats_out[0] = tree[0]; }
}

// ---- the update ----
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;
@group(0) @binding(4) var<storage, read_write> m2: array<f32>;
@group(0) @binding(5) var<storage, read> decay_bits: array<u32>;
@group(0) @binding(6) var<storage, read> stats: array<f32>;

@compute @workgroup_size(WG)
fn adamw(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  let sumsq = stats[0];
  if (i >= p.n || !is_finite(sumsq)) { return; }
  var clip = 1.0;
  if (p.max_norm > 0.0) { clip = min(1.0, p.max_norm / (sqrt(sumsq) + 1e-6)); }
  let g = grad[i] * clip;
  let m = p.beta1 * m1[i] + (1.0 - p.beta1) * g;
  let v = p.beta2 * m2[i] + (1.0 - p.beta2) * g * g;
  m1[i] = m;
  m2[i] = v;
  let decays = ((decay_bits[i >> 5u] >> (i & 31u)) & 1u) == 1u;
  var w = param[i];
  if (decays) { w *= 1.0 - p.lr * p.weight_decay; }
  let m_hat = m / p.bias_correction1;
  let v_hat = v / p.bias_correction2;
  param[i] = w - p.lr * m_hat / (sqrt(v_hat) + p.eps);
}
