// Teacher-student cross-entropy for self-distillation (DINO on CLS, iBOT on patches):
//   q_r = softmax((teacher[r mod T] - centre) / tau_t),  ce_r = -sum_k q_rk log softmax(s_r / tau_s)_k
// One workgroup per student row r; rows repeat the teacher every T rows (DINO: M local crops of
// a batch of T images, crop-major; iBOT: R = T). The teacher gets no gradient.
//   d ce_r / d s_rk = (softmax(s_r / tau_s)_k - q_rk) / tau_s

#include flat_index
#include block_reduce

// The forward runs THREADS (4 to 256, sized to K by the op) per row; its reductions
// (lib/block_reduce.wgsl) take the two maxima together and then the three sums together.
override THREADS: u32 = 256u;  // a power of two, 4 to 256 (src/ops/rows.ts)

struct Params {
  rows: u32,
  teacher_rows: u32,
  k: u32,
  inv_tau_s: f32,
  inv_tau_t: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(2) var<storage, read> teacher: array<f32>;
@group(0) @binding(3) var<storage, read> centre: array<f32>;
// Per row: [ce, student log-sum-exp, teacher max, teacher log-sum] (the last three for backward).
@group(0) @binding(4) var<storage, read_write> row_out: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> ce_out: array<f32>;

fn teacher_logit(t_base: u32, k: u32) -> f32 {
  return (teacher[t_base + k] - centre[k]) * p.inv_tau_t;
}

@compute @workgroup_size(THREADS)
fn forward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid: vec3u) {
  let r = wg.y * nwg.x + wg.x;   // uniform: whole workgroups skip together
  if (r >= p.rows) { return; }
  let s_base = r * p.k;
  let t_base = (r % p.teacher_rows) * p.k;
  var m = vec2f(-3.0e38);  // student, teacher
  for (var k = lid.x; k < p.k; k += THREADS) {
    m = max(m, vec2f(student[s_base + k] * p.inv_tau_s, teacher_logit(t_base, k)));
  }
  m = block_max(vec4f(m, 0.0, 0.0), lid.x).xy;
  let ms = m.x;
  let mt = m.y;
  // sum_k exp(s_k - ms), sum_k exp(t_k - mt), sum_k exp(t_k - mt) * s_k (normalised below)
  var sums = vec3f(0.0);
  for (var k = lid.x; k < p.k; k += THREADS) {
    let sl = student[s_base + k] * p.inv_tau_s;
    let e = exp(teacher_logit(t_base, k) - mt);
    sums += vec3f(exp(sl - ms), e, e * sl);
  }
  sums = block_sum(vec4f(sums, 0.0), lid.x).xyz;
  if (lid.x == 0u) {
    let lse_s = ms + log(sums.x);
    let ce = lse_s - sums.z / sums.y;
    row_out[r] = vec4f(ce, lse_s, mt, log(sums.y));
    ce_out[r] = ce;
  }
}

@group(0) @binding(1) var<storage, read> student_b: array<f32>;
@group(0) @binding(2) var<storage, read> teacher_b: array<f32>;
@group(0) @binding(3) var<storage, read> centre_b: array<f32>;
@group(0) @binding(4) var<storage, read> saved: array<vec4f>;
@group(0) @binding(5) var<storage, read> dce: array<f32>;
@group(0) @binding(6) var<storage, read_write> dstudent: array<f32>;

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  if (i >= p.rows * p.k) { return; }
  let r = i / p.k;
  let k = i - r * p.k;
  let row = saved[r];
  let t_base = (r % p.teacher_rows) * p.k;
  let q = exp((teacher_b[t_base + k] - centre_b[k]) * p.inv_tau_t - row.z - row.w);
  let ps = exp(student_b[i] * p.inv_tau_s - row.y);
  dstudent[i] = dce[r] * (ps - q) * p.inv_tau_s;
}
