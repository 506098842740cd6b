// The residual branch of a transformer block with LayerScale: out = x + y * gamma, gamma [D]
// broadcast over rows of D, in one pass; and its backward's kernels.
//   forward     out = x + y * gamma
//   scale_rows  dy = d * gamma
//   gamma_grad  dgamma[c] = sum over rows r of d[r, c] * y[r, c] (one thread per column, rows in
//               order), written or, with ACCUMULATE, added in place (a gradient slab).
//   backward    both of the above in one dispatch, each column's thread writing its dy on the way
//               (when both gradients are needed, as in training).

#include flat_index

override ACCUMULATE: bool = false;

struct Params {
  n: u32,      // elements (rows * dim)
  dim: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;   // [dim]
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  if (i >= p.n) { return; }
  out[i] = x[i] + y[i] * gamma[i % p.dim];
}

@group(0) @binding(1) var<storage, read> rows_d: array<f32>;
@group(0) @binding(2) var<storage, read> rows_gamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> rows_out: array<f32>;

@compute @workgroup_size(WG)
fn scale_rows(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  if (i >= p.n) { return; }
  rows_out[i] = rows_d[i] * rows_gamma[i % p.dim];
}

@group(0) @binding(1) var<storage, read> grad_d: array<f32>;
@group(0) @binding(2) var<storage, read> grad_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad_gamma: array<f32>;

@compute @workgroup_size(WG)
fn gamma_grad(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_id) lid: vec3u) {
  let c = flat_index(wg, nwg, lid.x);
  if (c >= p.dim) { return; }
  var acc = 0.0;
  for (var i = c; i < p.n; i += p.dim) { acc += grad_d[i] * grad_y[i]; }
  if (ACCUMULATE) { acc += grad_gamma[c]; }
  grad_gamma[c] = acc;
}

@group(0) @binding(1) var<storage, read> back_d: array<f32>;
@group(0) @binding(2) var<storage, read> back_y: array<f32>;
@group(0) @binding(3) var<storage, read> back_gamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> back_dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> back_dgamma: array<f32>;

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_id) lid: vec3u) {
  let c = flat_index(wg, nwg, lid.x);
  if (c >= p.dim) { return; }
  let g = back_gamma[c];
  var acc = 0.0;
  for (var i = c; i < p.n; i += p.dim) {
    let d = back_d[i];
    back_dy[i] = d * g;
    acc += d * back_y[i];
  }
  if (ACCUMULATE) { acc += back_dgamma[c]; }
  back_dgamma[c] = acc;
}
