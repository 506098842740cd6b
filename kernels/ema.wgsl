// EMA teacher update, one dispatch: teacher[i] = momentum * teacher[i] + (1 - momentum) *
// student[student_start + i] for i < n. The teacher's parameters have the same relative layout
// as a contiguous range of the student's slab (see src/tips/ema.ts).

#include flat_index

struct Params {
  student_start: u32,
  n: u32,
  momentum: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> teacher: array<f32>;
@group(0) @binding(2) var<storage, read> student: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  if (i >= p.n) { return; }
  teacher[i] = p.momentum * teacher[i] + (1.0 - p.momentum) * student[p.student_start + i];
}
