// Softmax and log-softmax over the last axis, and their backward: one workgroup of THREADS (4
// to 256, sized to the row by the op) per row. Thread `lid` owns columns lid, lid + THREADS, ...;
// it holds up to PER_THREAD of them in registers, so a row of up to PER_THREAD * THREADS values
// (4096 at most) is read once. Longer rows are walked in tiles of PER_THREAD * THREADS values and
// re-read for each pass (lib/row_tiles.wgsl). Reductions are the trees of lib/block_reduce.wgsl;
// every barrier is reached by the whole workgroup (padding rows included).

// The row's current tile: v holds x (forward) or y (backward), g holds dy.
#include row_tiles

override LOG: bool = false;      // log-softmax instead of softmax

const NEG_MAX = -0x1.fffffep+127f;  // the lowest finite f32

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// Columns past the row's end (and padding rows) read as NEG_MAX: they add nothing to the max
// or to the sum of exponentials.
fn load_x(row: u32, t: u32, lid: u32) {
  for (var k = 0u; k < PER_THREAD; k++) {
    let c = column(t, k, lid);
    v[k] = NEG_MAX;
    if (row < p.rows && c < p.cols) { v[k] = x[row * p.cols + c]; }
  }
}

@compute @workgroup_size(THREADS)
fn forward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let row = wg.y * nwg.x + wg.x;
  let tiles = tile_count();
  var m = NEG_MAX;
  for (var t = 0u; t < tiles; t++) {
    load_x(row, t, lid);
    for (var k = 0u; k < PER_THREAD; k++) { m = max(m, v[k]); }
  }
  let row_max = block_max(vec4f(m), lid).x;
  var s = 0.0;
  for (var t = 0u; t < tiles; t++) {
    if (tiles > 1u) { load_x(row, t, lid); }
    for (var k = 0u; k < PER_THREAD; k++) { s += exp(v[k] - row_max); }
  }
  let row_sum = block_sum(vec4f(s), lid).x;
  let log_sum = log(row_sum);
  let inv_sum = 1.0 / row_sum;
  for (var t = 0u; t < tiles; t++) {
    if (tiles > 1u) { load_x(row, t, lid); }
    for (var k = 0u; k < PER_THREAD; k++) {
      let c = column(t, k, lid);
      if (row < p.rows && c < p.cols) {
        let z = v[k] - row_max;
        y[row * p.cols + c] = select(exp(z) * inv_sum, z - log_sum, LOG);
      }
    }
  }
}

@group(0) @binding(1) var<storage, read> y_saved: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn load_y_dy(row: u32, t: u32, lid: u32) {
  for (var k = 0u; k < PER_THREAD; k++) {
    let c = column(t, k, lid);
    v[k] = 0.0;
    g[k] = 0.0;
    if (row < p.rows && c < p.cols) {
      v[k] = y_saved[row * p.cols + c];
      g[k] = dy[row * p.cols + c];
    }
  }
}

// softmax: dx = y * (dy - sum(dy * y)); log-softmax: dx = dy - exp(y) * sum(dy).
@compute @workgroup_size(THREADS)
fn backward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let row = wg.y * nwg.x + wg.x;
  let tiles = tile_count();
  var s = 0.0;
  for (var t = 0u; t < tiles; t++) {
    load_y_dy(row, t, lid);
    for (var k = 0u; k < PER_THREAD; k++) { s += select(g[k] * v[k], g[k], LOG); }
  }
  let total = block_sum(vec4f(s), lid).x;
  for (var t = 0u; t < tiles; t++) {
    if (tiles > 1u) { load_y_dy(row, t, lid); }
    for (var k = 0u; k < PER_THREAD; k++) {
      let c = column(t, k, lid);
      if (row < p.rows && c < p.cols) {
        dx[row * p.cols + c] = select(v[k] * (g[k] - total), g[k] - exp(v[k]) * total, LOG);
      }
    }
  }
}
