// L2 normalisation over the last axis, y = x / max(||x||, eps) as torch.nn.functional.normalize,
// and its backward: one workgroup of THREADS (4 to 256, sized to the row by the op) per row.
// Thread `lid` owns columns lid, lid + THREADS, ...; it holds up to PER_THREAD of them in
// registers, so a row of up to PER_THREAD * THREADS values (4096 at most) is read once. Longer
// rows are walked in tiles of PER_THREAD * THREADS values and re-read for each pass
// (lib/row_tiles.wgsl). Reductions are the trees of lib/block_reduce.wgsl, reached by the whole
// workgroup (padding rows too).

// The row's current tile: v holds x, g holds dy (backward).
#include row_tiles

struct Params {
  rows: u32,
  cols: u32,
  eps: f32,
  accumulate: u32,   // backward: dx += the gradient (a parameter's, summed in place)
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// Loads tile t of the row into v; missing columns (past the row's end, padding rows) read as 0.
fn load_x(row: u32, t: u32, lid: u32) {
  for (var k = 0u; k < PER_THREAD; k++) {
    let c = column(t, k, lid);
    v[k] = 0.0;
    if (row < p.rows && c < p.cols) { v[k] = x[row * p.cols + c]; }
  }
}

@compute @workgroup_size(THREADS)
fn forward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let row = wg.y * nwg.x + wg.x;
  let tiles = tile_count();
  var squares = 0.0;
  for (var t = 0u; t < tiles; t++) {
    load_x(row, t, lid);
    for (var k = 0u; k < PER_THREAD; k++) { squares += v[k] * v[k]; }
  }
  let inv = 1.0 / max(sqrt(block_sum(vec4f(squares), lid).x), p.eps);
  for (var t = 0u; t < tiles; t++) {
    if (tiles > 1u) { load_x(row, t, lid); }
    for (var k = 0u; k < PER_THREAD; k++) {
      let c = column(t, k, lid);
      if (row < p.rows && c < p.cols) { y[row * p.cols + c] = v[k] * inv; }
    }
  }
}

@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn load_x_dy(row: u32, t: u32, lid: u32) {
  for (var k = 0u; k < PER_THREAD; k++) {
    let c = column(t, k, lid);
    v[k] = 0.0;
    g[k] = 0.0;
    if (row < p.rows && c < p.cols) {
      v[k] = x[row * p.cols + c];
      g[k] = dy[row * p.cols + c];
    }
  }
}

// With n = ||x||: where n >= eps, y = x / n and dx = (dy - y * sum(dy * y)) / n
// = dy / n - x * sum(dy * x) / n^3; where n < eps, y = x / eps and dx = dy / eps (as torch's
// clamp_min, which passes the gradient to n at n = eps).
@compute @workgroup_size(THREADS)
fn backward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let row = wg.y * nwg.x + wg.x;
  let tiles = tile_count();
  var sums = vec2f(0.0);  // sum(x * x), sum(dy * x)
  for (var t = 0u; t < tiles; t++) {
    load_x_dy(row, t, lid);
    for (var k = 0u; k < PER_THREAD; k++) { sums += v[k] * vec2f(v[k], g[k]); }
  }
  let total = block_sum(vec4f(sums, 0.0, 0.0), lid).xy;
  let norm = sqrt(total.x);
  let clipped = norm < p.eps;
  let inv = 1.0 / select(norm, p.eps, clipped);
  let along = select(total.y * inv * inv * inv, 0.0, clipped);
  for (var t = 0u; t < tiles; t++) {
    if (tiles > 1u) { load_x_dy(row, t, lid); }
    for (var k = 0u; k < PER_THREAD; k++) {
      let c = column(t, k, lid);
      if (row < p.rows && c < p.cols) {
        let at = row * p.cols + c;
        var d = g[k] * inv - v[k] * along;
        if (p.accumulate != 0u) { d += dx[at]; }
        dx[at] = d;
      }
    }
  }
}
