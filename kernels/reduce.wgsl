// Sum over any set of axes. One invocation per output element walks the reduced index space:
// `keep` describes the output axes (sizes and input strides), `red` the reduced axes. Threads
// that share a reduction walk neighbouring outputs, so reads coalesce when the kept axes are
// innermost. Long last-axis rows use `rows` below instead, and sums over leading axes (bias and
// LayerScale gradients: [rows, cols] -> [cols]) use `columns`.

#include flat_index

override MEAN: bool = false;
override ACCUMULATE: bool = false;   // out += result (gradients summed in place)

struct Params {
  n_out: u32,
  n_red: u32,
  keep_rank: u32,
  red_rank: u32,
  keep_shape: array<vec4u, 2>,
  keep_stride: array<vec4u, 2>,
  red_shape: array<vec4u, 2>,
  red_stride: array<vec4u, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn offset(i: u32, rank: u32, shape: array<vec4u, 2>, stride: array<vec4u, 2>) -> u32 {
  var rem = i;
  var off = 0u;
  for (var d = 0u; d < rank; d++) {
    let axis = rank - 1u - d;
    let dim = shape[axis / 4u][axis % 4u];
    off += (rem % dim) * stride[axis / 4u][axis % 4u];
    rem = rem / dim;
  }
  return off;
}

@compute @workgroup_size(WG)
fn strided(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  if (i >= p.n_out) { return; }
  let base = offset(i, p.keep_rank, p.keep_shape, p.keep_stride);
  var acc = 0.0;
  for (var r = 0u; r < p.n_red; r++) {
    acc += x[base + offset(r, p.red_rank, p.red_shape, p.red_stride)];
  }
  var r = select(acc, acc / f32(p.n_red), MEAN);
  if (ACCUMULATE) { r += out[i]; }
  out[i] = r;
}

// Sum (or mean) of each contiguous row of length n_red: one workgroup per row, a tree in
// workgroup memory. Uses only n_out and n_red of the parameters.
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn rows(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let row = wg.y * nwg.x + wg.x;   // uniform across the workgroup
  var acc = 0.0;
  if (row < p.n_out) {
    for (var c = lid.x; c < p.n_red; c += WG) { acc += x[row * p.n_red + c]; }
  }
  partial[lid.x] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid.x < s) { partial[lid.x] += partial[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u && row < p.n_out) {
    var r = select(partial[0], partial[0] / f32(p.n_red), MEAN);
    if (ACCUMULATE) { r += out[row]; }
    out[row] = r;
  }
}

// Sum (or mean) over the leading axes of x seen as [n_red, n_out]: a workgroup takes 32
// neighbouring columns, and its 8 row lanes each walk every 8th row (a warp reads 32 consecutive
// floats of one row), so a column's rows are summed 8-wide instead of by one thread, with no
// index division; the 8 partials meet in workgroup memory. Uses only n_out and n_red.
const COLUMN_LANES = 32u;
const ROW_LANES = 8u;
var<workgroup> column_partial: array<array<f32, COLUMN_LANES>, ROW_LANES>;

@compute @workgroup_size(COLUMN_LANES, ROW_LANES)
fn columns(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid: vec3u) {
  let col = (wg.y * nwg.x + wg.x) * COLUMN_LANES + lid.x;
  var acc = 0.0;
  if (col < p.n_out) {
    for (var r = lid.y; r < p.n_red; r += ROW_LANES) { acc += x[r * p.n_out + col]; }
  }
  column_partial[lid.y][lid.x] = acc;
  workgroupBarrier();
  if (lid.y == 0u && col < p.n_out) {
    var total = 0.0;
    for (var l = 0u; l < ROW_LANES; l++) { total += column_partial[l][lid.x]; }
    var r = select(total, total / f32(p.n_red), MEAN);
    if (ACCUMULATE) { r += out[col]; }
    out[col] = r;
  }
}
