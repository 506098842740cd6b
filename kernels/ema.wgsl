// EMA teacher update over a range of the flat parameter slab:
// teacher[i] = momentum * teacher[i] + (1 - momentum) * student[i], for i in [start, start + n).

struct Params {
  start: u32,
  n: u32,
  momentum: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> teacher: array<f32>;
@group(0) @binding(2) var<storage, read> student: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let k = (wg.y * nwg.x + wg.x) * 256u + lid.x;
  if (k >= p.n) { return; }
  let i = p.start + k;
  teacher[i] = p.momentum * teacher[i] + (1.0 - p.momentum) * student[i];
}
