// Cuts images [B, C, H, W] into non-overlapping p x p patches [B, (H/p)*(W/p), C*p*p], each patch
// ordered (channel, row, column) like a Conv2d weight (D, C, p, p), so that the patch embedding
// is one matmul with that weight reshaped to (D, C*p*p). Rows and columns past the last whole
// patch are dropped (as a stride-p convolution does).

#include flat_index

struct Params {
  batch: u32,
  channels: u32,
  height: u32,
  width: u32,
  size: u32,        // patch side
  grid_h: u32,
  grid_w: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> images: array<f32>;
@group(0) @binding(2) var<storage, read_write> patches: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  let per_patch = p.channels * p.size * p.size;
  let n_patches = p.grid_h * p.grid_w;
  if (i >= p.batch * n_patches * per_patch) { return; }
  let k = i % per_patch;              // position inside the patch: (c, dy, dx)
  let bn = i / per_patch;             // (b, patch index)
  let b = bn / n_patches;
  let n = bn - b * n_patches;
  let gy = n / p.grid_w;
  let gx = n - gy * p.grid_w;
  let c = k / (p.size * p.size);
  let rem = k - c * p.size * p.size;
  let dy = rem / p.size;
  let dx = rem - dy * p.size;
  let y = gy * p.size + dy;
  let x = gx * p.size + dx;
  patches[i] = images[((b * p.channels + c) * p.height + y) * p.width + x];
}
