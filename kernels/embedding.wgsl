// Embedding lookup out[n, :] = table[ids[n], :] (table [V, D], N positions) and its deterministic
// backward dTable[v, :] = sum of dOut[n, :] over the positions n with ids[n] == v, in increasing n.
// ids are read as u32, so i32 ids below zero (huge as u32) are out of range like ids >= V: their
// output rows are zero and they add to no gradient row. Nothing is read out of bounds.
//
// The backward builds a CSR index instead of using atomics (WGSL has no float atomics, and a
// float sum whose order depends on scheduling would break bit-exact resumed training runs):
//   sort_positions  order[rank(n)] = n, rank = place of (ids[n], n) in sorted order: O(N^2)
//                   integer compares, cheap for the few thousand tokens of a text batch
//   row_starts      starts[v] = first r with ids[order[r]] >= v, for v in [0, V]: binary search
//   scatter         one thread per (v, d) sums its run of positions; rows never referenced get 0,
//                   so dTable needs no zero fill. O(V*D + N*D) for the whole table.

#include flat_index

struct Params {
  positions: u32,   // N
  dim: u32,         // D
  vocab: u32,       // V
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  if (i >= p.positions * p.dim) { return; }
  let n = i / p.dim;
  let d = i - n * p.dim;
  let id = ids[n];
  out[i] = select(0.0, table[min(id, p.vocab - 1u) * p.dim + d], id < p.vocab);
}

@group(0) @binding(1) var<storage, read> sort_ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> sort_order: array<u32>;

@compute @workgroup_size(WG)
fn sort_positions(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_id) lid: vec3u) {
  let n = flat_index(wg, nwg, lid.x);
  if (n >= p.positions) { return; }
  let id = sort_ids[n];
  var rank = 0u;
  for (var m = 0u; m < p.positions; m++) {
    let other = sort_ids[m];
    rank += select(0u, 1u, other < id || (other == id && m < n));
  }
  sort_order[rank] = n;
}

@group(0) @binding(1) var<storage, read> starts_ids: array<u32>;
@group(0) @binding(2) var<storage, read> starts_order: array<u32>;
@group(0) @binding(3) var<storage, read_write> starts: array<u32>;

@compute @workgroup_size(WG)
fn row_starts(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_id) lid: vec3u) {
  let v = flat_index(wg, nwg, lid.x);
  if (v > p.vocab) { return; }
  var lo = 0u;
  var hi = p.positions;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (starts_ids[starts_order[mid]] < v) { lo = mid + 1u; } else { hi = mid; }
  }
  starts[v] = lo;
}

@group(0) @binding(1) var<storage, read> d_out: array<f32>;
@group(0) @binding(2) var<storage, read> scatter_order: array<u32>;
@group(0) @binding(3) var<storage, read> scatter_starts: array<u32>;
@group(0) @binding(4) var<storage, read_write> d_table: array<f32>;

@compute @workgroup_size(WG)
fn scatter(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  if (i >= p.vocab * p.dim) { return; }
  let v = i / p.dim;
  let d = i - v * p.dim;
  var acc = 0.0;
  for (var r = scatter_starts[v]; r < scatter_starts[v + 1u]; r++) {
    acc += d_out[scatter_order[r] * p.dim + d];
  }
  d_table[i] = acc;
}
