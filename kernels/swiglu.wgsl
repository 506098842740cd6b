// SwiGLU gate over rows of [x1 | x2] (the two halves of one w12 projection, as in DINOv2's
// SwiGLUFFN): y = silu(x1) * x2, and its backward, with lib/activation.wgsl (silu).

#include flat_index
#include activation

struct Params {
  rows: u32,
  hidden: u32,   // h: the input row has 2h values, the output row h
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  if (i >= p.rows * p.hidden) { return; }
  let row = i / p.hidden;
  let col = i - row * p.hidden;
  let base = row * 2u * p.hidden;
  y[i] = silu(x[base + col]) * x[base + p.hidden + col];
}

@group(0) @binding(1) var<storage, read> x_saved: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// d silu(a)/da = s(a) * (1 + a * (1 - s(a))), s the logistic function.
@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  if (i >= p.rows * p.hidden) { return; }
  let row = i / p.hidden;
  let col = i - row * p.hidden;
  let base = row * 2u * p.hidden;
  let a = x_saved[base + col];
  let b = x_saved[base + p.hidden + col];
  let s = 1.0 / (1.0 + exp(-a));
  dx[base + col] = dy[i] * b * s * (1.0 + a * (1.0 - s));
  dx[base + p.hidden + col] = dy[i] * a * s;
}
