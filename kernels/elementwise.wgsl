// Elementwise ops over flat f32 arrays. Binary ops broadcast with per-input strides (0 on a
// broadcast axis) over an output of rank <= 8; BROADCAST=false skips the index arithmetic when
// both inputs already have the output's shape. Every binary result is multiplied by alpha (1 but
// where a backward folds a constant factor in: 2 d x for d(x * x), d / n for a mean's gradient).

#include flat_index

override OP: u32 = 0u;           // binary: 0 add, 1 sub, 2 mul, 3 div, 4 a (broadcast copy); unary: see `unary`
override BROADCAST: bool = true;

struct Params {
  n: u32,
  rank: u32,
  alpha: f32,
  beta: f32,
  shape: array<vec4u, 2>,   // output shape, innermost last
  stride_a: array<vec4u, 2>,
  stride_b: array<vec4u, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn apply(x: f32, y: f32) -> f32 {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    case 3u: { return x / y; }
    default: { return x; }
  }
}

@compute @workgroup_size(WG)
fn binary(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  if (i >= p.n) { return; }
  if (!BROADCAST) {
    out[i] = p.alpha * apply(a[i], b[i]);
    return;
  }
  var rem = i;
  var ia = 0u;
  var ib = 0u;
  for (var d = 0u; d < p.rank; d++) {
    let axis = p.rank - 1u - d;            // innermost first
    let dim = p.shape[axis / 4u][axis % 4u];
    let coord = rem % dim;
    rem = rem / dim;
    ia += coord * p.stride_a[axis / 4u][axis % 4u];
    ib += coord * p.stride_b[axis / 4u][axis % 4u];
  }
  out[i] = p.alpha * apply(a[ia], b[ib]);
}

// Unary ops (all cases together use a and b, so both stay in the auto layout): 0 affine alpha*a+beta, 1 relu,
// 2 relu backward (b = upstream gradient), 3 fill with beta, 4 out += alpha * a (in place: an SGD
// step p += -lr g is one pass).
@compute @workgroup_size(WG)
fn unary(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  if (i >= p.n) { return; }
  switch OP {
    case 0u: { out[i] = p.alpha * a[i] + p.beta; }
    case 1u: { out[i] = max(a[i], 0.0); }
    case 2u: { out[i] = select(0.0, b[i], a[i] > 0.0); }
    case 4u: { out[i] += p.alpha * a[i]; }
    default: { out[i] = p.beta; }
  }
}
