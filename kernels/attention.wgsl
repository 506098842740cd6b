// Multi-head attention, FlashAttention-2 style: O = softmax(Q K^T * scale, masked) V for every
// (batch, head), never storing the Sq x Sk score matrix. Where each operand's rows lie is a layout
// in the parameters (offset, row, head and batch strides), so q, k, v can be read straight from a
// packed [B, S, 3, H, DH] projection and o written merged as [B, S, H, DH] (or any [B, H, S, DH]).
//   forward       grid (query block, batch*head); one query row per thread, its q and unnormalised
//                 output in registers; K/V blocks of TILE keys staged in workgroup memory; running
//                 max m and sum l, rescaled by exp(m_old - m_new) once per block; O = acc / l and
//                 L = m + log(l) per query row, saved for the backward.
//   delta         stats_i = (L_i, D_i) with D_i = rowsum(dO * O)_i.
//   backward_dkv  grid (key block, batch*head); one key row per thread; loops over query blocks,
//                 recomputing P_ij = exp(s_ij - L_i): dV_j += P_ij dO_i,
//                 dS_ij = P_ij (dO_i . v_j - D_i), dK_j += dS_ij q_i scale.
//   backward_dq   grid (query block, batch*head); loops over key blocks: dQ_i += dS_ij k_j scale.
// Every output element has one writer (no float atomics): results are deterministic.
// Masked keys (key_mask 0) and keys past the end get no probability, as a -inf score would give.
// A query whose keys are all masked gets O = 0, L = BIG (so every exp(s - L) is 0), zero gradients.
// Rows are held as DH4 = ceil(DH / 4) vec4s, zero past DH: one path for every DH up to 4*MAX_DH4.
//
// Faster later: QK^T and PV as register-tiled mini-GEMMs (each thread a small tile of S and of O,
// vec4 fragments from workgroup memory) instead of one row per thread and private arrays indexed
// in loops; vec4 global loads when DH % 4 == 0; exp2 with log2(e) folded into the scale.

struct Params {
  sq: u32,      // query rows per (batch, head)
  sk: u32,      // key rows per (batch, head)
  bh: u32,      // batch * heads
  heads: u32,
  scale: f32,
  q_off: u32,   // q (and dq) element (b, h, s, 0) at q_off + b q_bs + h q_hs + s q_rs
  q_rs: u32,
  q_hs: u32,
  q_bs: u32,
  k_off: u32,   // k at k_off and v at v_off, both with kv strides
  v_off: u32,
  kv_rs: u32,
  kv_hs: u32,
  kv_bs: u32,
  dk_off: u32,  // dk and dv in the one dkv output, with kv strides
  dv_off: u32,
  o_rs: u32,    // o and dO (offset 0)
  o_hs: u32,
  o_bs: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

override DH: u32 = 64u;                // head dim
override DH4: u32 = (DH + 3u) / 4u;    // vec4s per row
override ROWS: u32 = 64u;              // rows owned per workgroup, one per thread
override TILE: u32 = 32u;              // rows per staged block of the other operand
override HAS_MASK: bool = false;

const MAX_DH4 = 32u;
const BIG = 1.0e30;

fn batch_head(wg: vec3u, nwg: vec3u) -> u32 {
  return wg.z * nwg.y + wg.y;
}

// First element of row s of (batch, head) bh in each layout.
fn q_row_at(bh: u32, s: u32) -> u32 {
  let b = bh / p.heads;
  return p.q_off + b * p.q_bs + (bh - b * p.heads) * p.q_hs + s * p.q_rs;
}

fn kv_row_at(bh: u32, s: u32) -> u32 {
  let b = bh / p.heads;
  return b * p.kv_bs + (bh - b * p.heads) * p.kv_hs + s * p.kv_rs;
}

fn o_row_at(bh: u32, s: u32) -> u32 {
  let b = bh / p.heads;
  return b * p.o_bs + (bh - b * p.heads) * p.o_hs + s * p.o_rs;
}

// ---- shared inputs (forward, backward_dkv, backward_dq) ----

@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> key_mask: array<u32>;   // [B, Sk], nonzero = real

fn q4(start: u32, c: u32) -> vec4f {
  var r = vec4f(0.0);
  for (var t = 0u; t < 4u; t++) {
    if (4u * c + t < DH) { r[t] = q[start + 4u * c + t]; }
  }
  return r;
}

fn k4(start: u32, c: u32) -> vec4f {
  var r = vec4f(0.0);
  for (var t = 0u; t < 4u; t++) {
    if (4u * c + t < DH) { r[t] = k[p.k_off + start + 4u * c + t]; }
  }
  return r;
}

fn v4(start: u32, c: u32) -> vec4f {
  var r = vec4f(0.0);
  for (var t = 0u; t < 4u; t++) {
    if (4u * c + t < DH) { r[t] = v[p.v_off + start + 4u * c + t]; }
  }
  return r;
}

fn key_is_real(b: u32, key: u32) -> bool {
  if (key >= p.sk) { return false; }
  if (HAS_MASK) { return key_mask[b * p.sk + key] != 0u; }
  return true;
}

// Keys and values k0 .. k0 + TILE of one (batch, head), for forward and backward_dq.
var<workgroup> k_tile: array<vec4f, TILE * DH4>;
var<workgroup> v_tile: array<vec4f, TILE * DH4>;
var<workgroup> key_real: array<f32, TILE>;   // 1 real, 0 masked or past the end

fn stage_keys(bh: u32, b: u32, k0: u32, lid: u32) {
  for (var i = lid; i < TILE * DH4; i += ROWS) {
    let j = i / DH4;
    let c = i - j * DH4;
    var kv = vec4f(0.0);
    var vv = vec4f(0.0);
    if (k0 + j < p.sk) {
      let start = kv_row_at(bh, k0 + j);
      kv = k4(start, c);
      vv = v4(start, c);
    }
    k_tile[i] = kv;
    v_tile[i] = vv;
  }
  for (var j = lid; j < TILE; j += ROWS) {
    key_real[j] = select(0.0, 1.0, key_is_real(b, k0 + j));
  }
}

// ---- forward ----

@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> out_lse: array<f32>;

var<workgroup> s_tile: array<f32, TILE * ROWS>;   // scores of the staged keys, [key][row]

@compute @workgroup_size(ROWS)
fn forward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let bh = batch_head(wg, nwg);
  if (bh >= p.bh) { return; }
  let b = bh / p.heads;
  let row = wg.x * ROWS + lid;
  let valid = row < p.sq;
  let q_row = bh * p.sq + row;
  let q_start = q_row_at(bh, row);
  var qr: array<vec4f, MAX_DH4>;    // q * scale
  var acc: array<vec4f, MAX_DH4>;   // unnormalised output
  if (valid) {
    for (var c = 0u; c < DH4; c++) { qr[c] = q4(q_start, c) * p.scale; }
  }
  var m = -BIG;
  var l = 0.0;
  for (var k0 = 0u; k0 < p.sk; k0 += TILE) {
    workgroupBarrier();   // the previous block is no longer read
    stage_keys(bh, b, k0, lid);
    workgroupBarrier();
    let n = min(TILE, p.sk - k0);
    var m_new = m;
    for (var j = 0u; j < n; j++) {
      var s = -BIG;
      if (key_real[j] != 0.0) {
        s = 0.0;
        for (var c = 0u; c < DH4; c++) { s += dot(qr[c], k_tile[j * DH4 + c]); }
        m_new = max(m_new, s);
      }
      s_tile[j * ROWS + lid] = s;
    }
    let alpha = exp(m - m_new);
    l *= alpha;
    for (var c = 0u; c < DH4; c++) { acc[c] *= alpha; }
    for (var j = 0u; j < n; j++) {
      if (key_real[j] != 0.0) {
        let pr = exp(s_tile[j * ROWS + lid] - m_new);
        l += pr;
        for (var c = 0u; c < DH4; c++) { acc[c] += pr * v_tile[j * DH4 + c]; }
      }
    }
    m = m_new;
  }
  if (valid) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
    let o_start = o_row_at(bh, row);
    for (var c = 0u; c < DH4; c++) {
      let o = acc[c] * inv;
      for (var t = 0u; t < 4u; t++) {
        if (4u * c + t < DH) { out[o_start + 4u * c + t] = o[t]; }
      }
    }
    out_lse[q_row] = select(BIG, m + log(l), l > 0.0);
  }
}

// ---- delta: stats = (L, rowsum(dO * O)) per query row ----

@group(0) @binding(1) var<storage, read> delta_o: array<f32>;
@group(0) @binding(2) var<storage, read> delta_do: array<f32>;
@group(0) @binding(3) var<storage, read> delta_lse: array<f32>;
@group(0) @binding(4) var<storage, read_write> delta_stats: array<vec2f>;

@compute @workgroup_size(256)
fn delta(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * nwg.x + wg.x) * 256u + lid;
  if (i >= p.bh * p.sq) { return; }
  let bh = i / p.sq;
  let start = o_row_at(bh, i - bh * p.sq);
  var d = 0.0;
  for (var c = 0u; c < DH; c++) { d += delta_o[start + c] * delta_do[start + c]; }
  delta_stats[i] = vec2f(delta_lse[i], d);
}

// ---- backward (shares q, k, v, key_mask at bindings 1-4) ----

@group(0) @binding(5) var<storage, read> stats: array<vec2f>;   // (L, D) per query row
@group(0) @binding(6) var<storage, read> d_o: array<f32>;

fn do4(start: u32, c: u32) -> vec4f {
  var r = vec4f(0.0);
  for (var t = 0u; t < 4u; t++) {
    if (4u * c + t < DH) { r[t] = d_o[start + 4u * c + t]; }
  }
  return r;
}

@group(0) @binding(7) var<storage, read_write> dkv: array<f32>;

// Queries q0 .. q0 + TILE of one (batch, head): q * scale, dO, and (L, D); past the end L = BIG.
var<workgroup> q_tile: array<vec4f, TILE * DH4>;
var<workgroup> do_tile: array<vec4f, TILE * DH4>;
var<workgroup> stat_tile: array<vec2f, TILE>;

@compute @workgroup_size(ROWS)
fn backward_dkv(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let bh = batch_head(wg, nwg);
  if (bh >= p.bh) { return; }
  let b = bh / p.heads;
  let key = wg.x * ROWS + lid;
  let k_start = kv_row_at(bh, key);
  let real = key_is_real(b, key);
  var kr: array<vec4f, MAX_DH4>;
  var vr: array<vec4f, MAX_DH4>;
  var dkr: array<vec4f, MAX_DH4>;
  var dvr: array<vec4f, MAX_DH4>;
  if (real) {
    for (var c = 0u; c < DH4; c++) {
      kr[c] = k4(k_start, c);
      vr[c] = v4(k_start, c);
    }
  }
  for (var q0 = 0u; q0 < p.sq; q0 += TILE) {
    workgroupBarrier();
    for (var i = lid; i < TILE * DH4; i += ROWS) {
      let r = i / DH4;
      let c = i - r * DH4;
      var qv = vec4f(0.0);
      var dov = vec4f(0.0);
      if (q0 + r < p.sq) {
        qv = q4(q_row_at(bh, q0 + r), c) * p.scale;
        dov = do4(o_row_at(bh, q0 + r), c);
      }
      q_tile[i] = qv;
      do_tile[i] = dov;
    }
    for (var r = lid; r < TILE; r += ROWS) {
      var st = vec2f(BIG, 0.0);
      if (q0 + r < p.sq) { st = stats[bh * p.sq + q0 + r]; }
      stat_tile[r] = st;
    }
    workgroupBarrier();
    if (real) {
      let n = min(TILE, p.sq - q0);
      for (var i = 0u; i < n; i++) {
        var s = 0.0;
        var dp = 0.0;
        for (var c = 0u; c < DH4; c++) {
          s += dot(q_tile[i * DH4 + c], kr[c]);
          dp += dot(do_tile[i * DH4 + c], vr[c]);
        }
        let st = stat_tile[i];
        let pr = exp(s - st.x);
        let ds = pr * (dp - st.y);
        for (var c = 0u; c < DH4; c++) {
          dvr[c] += pr * do_tile[i * DH4 + c];
          dkr[c] += ds * q_tile[i * DH4 + c];
        }
      }
    }
  }
  if (key < p.sk) {
    for (var c = 0u; c < DH4; c++) {
      for (var t = 0u; t < 4u; t++) {
        if (4u * c + t < DH) {
          dkv[p.dk_off + k_start + 4u * c + t] = dkr[c][t];
          dkv[p.dv_off + k_start + 4u * c + t] = dvr[c][t];
        }
      }
    }
  }
}

@group(0) @binding(7) var<storage, read_write> dq: array<f32>;

@compute @workgroup_size(ROWS)
fn backward_dq(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let bh = batch_head(wg, nwg);
  if (bh >= p.bh) { return; }
  let b = bh / p.heads;
  let row = wg.x * ROWS + lid;
  let valid = row < p.sq;
  let q_start = q_row_at(bh, row);
  var qr: array<vec4f, MAX_DH4>;    // q * scale
  var dor: array<vec4f, MAX_DH4>;
  var dqr: array<vec4f, MAX_DH4>;   // dQ / scale
  var st = vec2f(BIG, 0.0);
  if (valid) {
    for (var c = 0u; c < DH4; c++) {
      qr[c] = q4(q_start, c) * p.scale;
      dor[c] = do4(o_row_at(bh, row), c);
    }
    st = stats[bh * p.sq + row];
  }
  for (var k0 = 0u; k0 < p.sk; k0 += TILE) {
    workgroupBarrier();
    stage_keys(bh, b, k0, lid);
    workgroupBarrier();
    let n = min(TILE, p.sk - k0);
    for (var j = 0u; j < n; j++) {
      if (key_real[j] != 0.0) {
        var s = 0.0;
        var dp = 0.0;
        for (var c = 0u; c < DH4; c++) {
          s += dot(qr[c], k_tile[j * DH4 + c]);
          dp += dot(dor[c], v_tile[j * DH4 + c]);
        }
        let ds = exp(s - st.x) * (dp - st.y);
        for (var c = 0u; c < DH4; c++) { dqr[c] += ds * k_tile[j * DH4 + c]; }
      }
    }
  }
  if (valid) {
    for (var c = 0u; c < DH4; c++) {
      let g = dqr[c] * p.scale;
      for (var t = 0u; t < 4u; t++) {
        if (4u * c + t < DH) { dq[q_start + 4u * c + t] = g[t]; }
      }
    }
  }
}
