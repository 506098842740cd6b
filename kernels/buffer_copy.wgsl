// Copies n 32-bit words from src[src_base..] to dst[dst_base..]. Gpu.copy and Gpu.write record
// their copies with it inside the compute pass, where a copyBufferToBuffer would end the pass.

#include flat_index

struct Params {
  n: u32,
  src_base: u32,
  dst_base: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wg, nwg, lid);
  if (i < p.n) { dst[p.dst_base + i] = src[p.src_base + i]; }
}
