// Strided copy: dst[dst_base + sum_k c_k * dst_stride[k]] = src[src_base + sum_k c_k * src_stride[k]]
// for every coordinate c of an iteration shape of rank <= 8 (axes merged where both layouts
// allow; rank 0 or 1 is one run). One thread per copied element.
// concat (each input into a window of the output), slice (a window of the input), pad (dOut into
// a window of a zero tensor) and transpose (permuted source strides) are all this one kernel.
// Elements are moved as u32 bit patterns, so f32, i32 and u32 tensors copy exactly. With
// ACCUMULATE (f32 only) the source is added to dst instead: a slice's gradient into one in place.

#include flat_index

struct Params {
  n: u32,                   // elements to copy (product of shape)
  rank: u32,
  src_base: u32,
  dst_base: u32,
  shape: array<vec4u, 2>,   // iteration shape, innermost last
  src_stride: array<vec4u, 2>,
  dst_stride: array<vec4u, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

override ACCUMULATE: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  if (i >= p.n) { return; }
  var s = p.src_base;
  var d = p.dst_base;
  if (p.rank <= 1u) {   // one run (the op merges the axes it can): no index division
    s += i * p.src_stride[0].x;
    d += i * p.dst_stride[0].x;
  } else {
    var rem = i;
    for (var k = 0u; k < p.rank; k++) {
      let axis = p.rank - 1u - k;             // innermost first
      let dim = p.shape[axis / 4u][axis % 4u];
      let coord = rem % dim;
      rem = rem / dim;
      s += coord * p.src_stride[axis / 4u][axis % 4u];
      d += coord * p.dst_stride[axis / 4u][axis % 4u];
    }
  }
  if (ACCUMULATE) {
    dst[d] = bitcast<u32>(bitcast<f32>(dst[d]) + bitcast<f32>(src[s]));
  } else {
    dst[d] = src[s];
  }
}
