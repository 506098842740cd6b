// LayerNorm over the last axis: y = (x - mean) * rstd * weight + bias, rstd = 1 / sqrt(var + eps).
// One workgroup of THREADS (4 to 256, sized to the row by the op) per row; thread `lid` owns
// columns lid, lid + THREADS, ... and keeps them in registers (PER_THREAD of them, at most CACHE:
// rows of at most 4096 values), so each row is read once. The variance is the mean of squared
// deviations from the mean (two passes over the registers).
// Reductions are the trees of lib/block_reduce.wgsl, reached by the whole workgroup (padding rows too).

#include block_reduce

override THREADS: u32 = 256u;    // a power of two, 4 to 256 (src/ops/rows.ts)
override PER_THREAD: u32 = 16u;  // ceil(cols / THREADS), at most CACHE

const CACHE = 16u;

struct Params {
  rows: u32,
  cols: u32,
  eps: f32,
  groups: u32,          // backward: workgroups, each owning rows_per_group consecutive rows
  rows_per_group: u32,
  write_y: u32,         // forward: 0 writes the statistics only, for a product that normalises
                        // as it loads (matmul.wgsl's a_norm, b_norm) instead of reading y
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;  // [rows, 2]: mean, rstd

@compute @workgroup_size(THREADS)
fn forward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let row = wg.y * nwg.x + wg.x;
  let live = row < p.rows;
  var v: array<f32, CACHE>;
  var s = 0.0;
  for (var k = 0u; k < PER_THREAD; k++) {
    let c = k * THREADS + lid;
    if (live && c < p.cols) { v[k] = x[row * p.cols + c]; }
    s += v[k];
  }
  let n = f32(p.cols);
  let mean = block_sum(vec4f(s), lid).x / n;
  var q = 0.0;
  for (var k = 0u; k < PER_THREAD; k++) {
    if (k * THREADS + lid < p.cols) {
      let d = v[k] - mean;
      q += d * d;
    }
  }
  let rstd = inverseSqrt(block_sum(vec4f(q), lid).x / n + p.eps);
  if (p.write_y != 0u) {
    for (var k = 0u; k < PER_THREAD; k++) {
      let c = k * THREADS + lid;
      if (live && c < p.cols) { y[row * p.cols + c] = (v[k] - mean) * rstd * weight[c] + bias[c]; }
    }
  }
  if (live && lid == 0u) {
    stats[2u * row] = mean;
    stats[2u * row + 1u] = rstd;
  }
}

@group(0) @binding(3) var<storage, read> stats_saved: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;  // [groups, 2, cols]

override ACCUMULATE_DX: bool = false;   // dx += the gradient (a gradient summed in place)

// With xhat = (x - mean) * rstd and h = dy * weight (mean over the row: <.>):
//   dx = rstd * (h - <h> - xhat * <h * xhat>)
// and this group's share of dweight = sum(dy * xhat), dbias = sum(dy) over its rows, which each
// thread accumulates in registers for its own columns (no atomics: the order is fixed).
@compute @workgroup_size(THREADS)
fn backward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let group = wg.y * nwg.x + wg.x;
  let first = group * p.rows_per_group;
  var w: array<f32, CACHE>;
  var xhat: array<f32, CACHE>;
  var g: array<f32, CACHE>;
  var dw: array<f32, CACHE>;
  var db: array<f32, CACHE>;
  for (var k = 0u; k < PER_THREAD; k++) {
    let c = k * THREADS + lid;
    if (c < p.cols) { w[k] = weight[c]; }
  }
  let n = f32(p.cols);
  for (var i = 0u; i < p.rows_per_group; i++) {
    let row = first + i;
    let live = row < p.rows;
    var mean = 0.0;
    var rstd = 0.0;
    if (live) {
      mean = stats_saved[2u * row];
      rstd = stats_saved[2u * row + 1u];
    }
    var sums = vec2f(0.0);
    for (var k = 0u; k < PER_THREAD; k++) {
      let c = k * THREADS + lid;
      xhat[k] = 0.0;
      g[k] = 0.0;
      if (live && c < p.cols) {
        xhat[k] = (x[row * p.cols + c] - mean) * rstd;
        g[k] = dy[row * p.cols + c];
      }
      let h = g[k] * w[k];
      sums += vec2f(h, h * xhat[k]);
    }
    let means = block_sum(vec4f(sums, 0.0, 0.0), lid).xy / n;
    for (var k = 0u; k < PER_THREAD; k++) {
      let c = k * THREADS + lid;
      if (live && c < p.cols) {
        var d = rstd * (g[k] * w[k] - means.x - xhat[k] * means.y);
        if (ACCUMULATE_DX) { d += dx[row * p.cols + c]; }
        dx[row * p.cols + c] = d;
      }
      dw[k] += g[k] * xhat[k];
      db[k] += g[k];
    }
  }
  for (var k = 0u; k < PER_THREAD; k++) {
    let c = k * THREADS + lid;
    if (group < p.groups && c < p.cols) {
      partials[2u * group * p.cols + c] = dw[k];
      partials[(2u * group + 1u) * p.cols + c] = db[k];
    }
  }
}

@group(0) @binding(1) var<storage, read> partials_saved: array<f32>;  // [groups, 2, cols]
@group(0) @binding(2) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(3) var<storage, read_write> dbias: array<f32>;

override ACCUMULATE: bool = false;   // dweight, dbias += the sums (gradients summed in place)
override FINISH_LANES: u32 = 8u;  // 1 to 8, chosen by the op from the number of groups
const FINISH_COLS = 32u;
var<workgroup> lane_sums: array<f32, FINISH_COLS * FINISH_LANES>;

// dweight and dbias: a workgroup owns 32 of the 2 * cols entries; its FINISH_LANES lanes of 32
// threads add up every FINISH_LANES-th group's partials (coalesced), then lane 0 adds the lane
// sums in order.
@compute @workgroup_size(FINISH_COLS * FINISH_LANES)
fn finish(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) lid: u32) {
  let col = lid % FINISH_COLS;
  let lane = lid / FINISH_COLS;
  let i = (wg.y * nwg.x + wg.x) * FINISH_COLS + col;  // in [0, 2 * cols)
  let width = 2u * p.cols;
  var acc = 0.0;
  if (i < width) {
    for (var j = lane; j < p.groups; j += FINISH_LANES) { acc += partials_saved[j * width + i]; }
  }
  lane_sums[lid] = acc;
  workgroupBarrier();
  if (lane == 0u && i < width) {
    var total = 0.0;
    for (var l = 0u; l < FINISH_LANES; l++) { total += lane_sums[l * FINISH_COLS + col]; }
    if (i < p.cols) {
      if (ACCUMULATE) { total += dweight[i]; }
      dweight[i] = total;
    } else {
      if (ACCUMULATE) { total += dbias[i - p.cols]; }
      dbias[i - p.cols] = total;
    }
  }
}
