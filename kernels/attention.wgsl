// Multi-head attention, FlashAttention-2 style: O = softmax(Q K^T * scale, masked) V for every
// (batch, head), never storing the Sq x Sk score matrix. Where each operand's rows lie is a layout
// in the parameters (offset, row, head and batch strides), so q, k, v can be read straight from a
// packed [B, S, 3, H, DH] projection and o written merged as [B, S, H, DH] (or any [B, H, S, DH]).
//   forward       grid (query block, batch*head); R_Q query rows per thread, their q and
//                 unnormalised outputs in registers; K/V blocks of TILE keys staged in workgroup
//                 memory; running max m and sum l, rescaled once per block; O = acc / l and
//                 L = m + log2(l) per query row, saved for the backward.
//   delta         stats_i = (L_i, D_i) with D_i = rowsum(dO * O)_i.
//   backward_dkv  grid (key block, batch*head); R_K key rows per thread; loops over query blocks,
//                 recomputing P_ij = exp2(s_ij - L_i): dV_j += P_ij dO_i,
//                 dS_ij = P_ij (dO_i . v_j - D_i), dK_j += dS_ij q_i scale.
//   backward_dq   grid (query block, batch*head), R_Q query rows per thread; loops over key
//                 blocks: dQ_i += dS_ij k_j scale.
// Every output element has one writer (no float atomics): results are deterministic.
// Masked keys (key_mask 0) and keys past the end get no probability, as a -inf score would give.
// A query whose keys are all masked gets O = 0, L = BIG (so every exp2(s - L) is 0), zero gradients.
//
// A template: src/ops/attention.ts adds the head dim's constants (DH, DH4 = ceil(DH / 4), R_Q,
// R_K), `alias Elem` (vec4f where every row starts at a multiple of 4 elements and DH % 4 == 0,
// else f32) and the row loads and stores for that Elem, and writes each block between
// `//$each R` and `//$end` R times with $r = 0, 1, ...: one set of named registers per row.
// What that buys a GPU, not only this adapter:
// - Register tiling: each vec4 of K or V read from workgroup memory feeds R_Q query rows (R_K
//   keys in the dkv pass), so shared-memory reads per FMA fall R-fold where the registers allow
//   it (R * DH4 <= 16 vec4s per row set; 1 row at DH 64). On a CPU adapter (Gpu.kernelTarget
//   "cpu") 64 vec4s, 4 rows at DH 64, and the `for c < DH4` loops are written out too. The rows
//   are unrolled by the template, not looped: Tint does not unroll, and a row index that is not a
//   constant would put the rows' arrays in local memory.
// - Private arrays of exactly DH4 vec4s (a const per head dim), not a bound of 128: a GPU
//   compiler reserves (or spills) registers for the whole declared array.
// - Scores are kept in base 2: q is scaled by scale * log2(e) once, so every probability is one
//   exp2 (the GPU's native instruction; exp costs a multiply more) and L is stored as a log2.
// - vec4 global loads and stores (Elem = vec4f): a quarter of the load instructions, 16-byte
//   transactions; the f32 path keeps any head dim and layout working.

#include flat_index

struct Params {
  sq: u32,      // query rows per (batch, head)
  sk: u32,      // key rows per (batch, head)
  bh: u32,      // batch * heads
  heads: u32,
  scale: f32,
  scale_log2: f32,   // scale * log2(e): scores in base 2
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
  has_mask: u32,   // a parameter, not an override: one pipeline serves masked and unmasked calls
}

@group(0) @binding(0) var<uniform> p: Params;

override ROWS: u32 = 64u;   // threads per workgroup (a CPU adapter's fitted to the sequence)
override TILE: u32 = 32u;   // rows per staged block of the other operand

const BIG = 1.0e30;
const LN2 = 0.6931471805599453;

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

@group(0) @binding(1) var<storage, read> q: array<Elem>;
@group(0) @binding(2) var<storage, read> k: array<Elem>;
@group(0) @binding(3) var<storage, read> v: array<Elem>;
@group(0) @binding(4) var<storage, read> key_mask: array<u32>;   // [B, Sk], nonzero = real

fn key_is_real(b: u32, key: u32) -> bool {
  if (key >= p.sk) { return false; }
  if (p.has_mask != 0u) { return key_mask[b * p.sk + key] != 0u; }
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
      kv = load_k(start, c);
      vv = load_v(start, c);
    }
    k_tile[i] = kv;
    v_tile[i] = vv;
  }
  for (var j = lid; j < TILE; j += ROWS) {
    key_real[j] = select(0.0, 1.0, key_is_real(b, k0 + j));
  }
}

// ---- forward ----

@group(0) @binding(5) var<storage, read_write> out: array<Elem>;
@group(0) @binding(6) var<storage, read_write> out_lse: array<f32>;

var<workgroup> s_tile: array<f32, TILE * ROWS * R_Q>;   // scores of the staged keys, [key][row]

@compute @workgroup_size(ROWS)
fn forward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let bh = batch_head(wg, nwg);
  if (bh >= p.bh) { return; }
  let b = bh / p.heads;
  //$each R_Q
  let row$r = (wg.x * R_Q + $ru) * ROWS + lid;   // rows of the thread: neighbours read neighbours
  var qr$r: array<vec4f, DH4>;    // q * scale * log2(e)
  var acc$r: array<vec4f, DH4>;   // unnormalised output
  var m$r = -BIG;
  var l$r = 0.0;
  if (row$r < p.sq) {
    let start = q_row_at(bh, row$r);
    for (var c = 0u; c < DH4; c++) { qr$r[c] = load_q(start, c) * p.scale_log2; }
  }
  //$end
  for (var k0 = 0u; k0 < p.sk; k0 += TILE) {
    workgroupBarrier();   // the previous block is no longer read
    stage_keys(bh, b, k0, lid);
    workgroupBarrier();
    let n = min(TILE, p.sk - k0);
    //$each R_Q
    var m_new$r = m$r;
    //$end
    for (var j = 0u; j < n; j++) {
      let real = key_real[j] != 0.0;
      //$each R_Q
      var s$r = select(-BIG, 0.0, real);
      //$end
      if (real) {
        for (var c = 0u; c < DH4; c++) {
          let kc = k_tile[j * DH4 + c];
          //$each R_Q
          s$r += dot(qr$r[c], kc);
          //$end
        }
        //$each R_Q
        m_new$r = max(m_new$r, s$r);
        //$end
      }
      //$each R_Q
      s_tile[(j * R_Q + $ru) * ROWS + lid] = s$r;
      //$end
    }
    //$each R_Q
    let alpha$r = exp2(m$r - m_new$r);
    l$r *= alpha$r;
    for (var c = 0u; c < DH4; c++) { acc$r[c] *= alpha$r; }
    m$r = m_new$r;
    //$end
    for (var j = 0u; j < n; j++) {
      if (key_real[j] != 0.0) {
        //$each R_Q
        let p$r = exp2(s_tile[(j * R_Q + $ru) * ROWS + lid] - m$r);
        l$r += p$r;
        //$end
        for (var c = 0u; c < DH4; c++) {
          let vc = v_tile[j * DH4 + c];
          //$each R_Q
          acc$r[c] += p$r * vc;
          //$end
        }
      }
    }
  }
  //$each R_Q
  if (row$r < p.sq) {
    let inv = select(0.0, 1.0 / l$r, l$r > 0.0);
    let start = o_row_at(bh, row$r);
    for (var c = 0u; c < DH4; c++) { store_out(start, c, acc$r[c] * inv); }
    out_lse[bh * p.sq + row$r] = select(BIG, m$r + log2(l$r), l$r > 0.0);
  }
  //$end
}

// ---- delta: stats = (L, rowsum(dO * O)) per query row ----

@group(0) @binding(1) var<storage, read> delta_o: array<Elem>;
@group(0) @binding(2) var<storage, read> delta_do: array<Elem>;
@group(0) @binding(3) var<storage, read> delta_lse: array<f32>;
@group(0) @binding(4) var<storage, read_write> delta_stats: array<vec2f>;

@compute @workgroup_size(WG)
fn delta(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wg, nwg, lid);
  if (i >= p.bh * p.sq) { return; }
  let bh = i / p.sq;
  let start = o_row_at(bh, i - bh * p.sq);
  var d = 0.0;
  for (var c = 0u; c < DH4; c++) { d += dot(load_delta_o(start, c), load_delta_do(start, c)); }
  delta_stats[i] = vec2f(delta_lse[i], d);
}

// ---- backward (shares q, k, v, key_mask at bindings 1-4) ----

@group(0) @binding(5) var<storage, read> stats: array<vec2f>;   // (L, D) per query row
@group(0) @binding(6) var<storage, read> d_o: array<Elem>;
@group(0) @binding(7) var<storage, read_write> dkv: array<Elem>;

// Queries q0 .. q0 + TILE of one (batch, head): q * scale * log2(e), dO, and (L, D); past the
// end L = BIG.
var<workgroup> q_tile: array<vec4f, TILE * DH4>;
var<workgroup> do_tile: array<vec4f, TILE * DH4>;
var<workgroup> stat_tile: array<vec2f, TILE>;

@compute @workgroup_size(ROWS)
fn backward_dkv(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let bh = batch_head(wg, nwg);
  if (bh >= p.bh) { return; }
  let b = bh / p.heads;
  var any_real = false;
  //$each R_K
  let key$r = (wg.x * R_K + $ru) * ROWS + lid;
  let real$r = key_is_real(b, key$r);
  any_real = any_real || real$r;
  var kr$r: array<vec4f, DH4>;
  var vr$r: array<vec4f, DH4>;
  var dkr$r: array<vec4f, DH4>;   // dK * log2(e): q_tile carries the log2(e)
  var dvr$r: array<vec4f, DH4>;
  if (real$r) {
    let start = kv_row_at(bh, key$r);
    for (var c = 0u; c < DH4; c++) {
      kr$r[c] = load_k(start, c);
      vr$r[c] = load_v(start, c);
    }
  }
  //$end
  for (var q0 = 0u; q0 < p.sq; q0 += TILE) {
    workgroupBarrier();
    for (var i = lid; i < TILE * DH4; i += ROWS) {
      let row = i / DH4;
      let c = i - row * DH4;
      var qv = vec4f(0.0);
      var dov = vec4f(0.0);
      if (q0 + row < p.sq) {
        qv = load_q(q_row_at(bh, q0 + row), c) * p.scale_log2;
        dov = load_do(o_row_at(bh, q0 + row), c);
      }
      q_tile[i] = qv;
      do_tile[i] = dov;
    }
    for (var row = lid; row < TILE; row += ROWS) {
      var st = vec2f(BIG, 0.0);
      if (q0 + row < p.sq) { st = stats[bh * p.sq + q0 + row]; }
      stat_tile[row] = st;
    }
    workgroupBarrier();
    if (any_real) {
      let n = min(TILE, p.sq - q0);
      for (var i = 0u; i < n; i++) {
        //$each R_K
        var s$r = 0.0;
        var dp$r = 0.0;
        //$end
        for (var c = 0u; c < DH4; c++) {
          let qc = q_tile[i * DH4 + c];
          let doc = do_tile[i * DH4 + c];
          //$each R_K
          s$r += dot(qc, kr$r[c]);
          dp$r += dot(doc, vr$r[c]);
          //$end
        }
        let st = stat_tile[i];
        //$each R_K
        let p$r = select(0.0, exp2(s$r - st.x), real$r);
        let ds$r = p$r * (dp$r - st.y);
        //$end
        for (var c = 0u; c < DH4; c++) {
          let qc = q_tile[i * DH4 + c];
          let doc = do_tile[i * DH4 + c];
          //$each R_K
          dvr$r[c] += p$r * doc;
          dkr$r[c] += ds$r * qc;
          //$end
        }
      }
    }
  }
  //$each R_K
  if (key$r < p.sk) {
    let start = kv_row_at(bh, key$r);
    for (var c = 0u; c < DH4; c++) {
      store_dk(start, c, dkr$r[c] * LN2);
      store_dv(start, c, dvr$r[c]);
    }
  }
  //$end
}

@group(0) @binding(7) var<storage, read_write> dq: array<Elem>;

@compute @workgroup_size(ROWS)
fn backward_dq(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let bh = batch_head(wg, nwg);
  if (bh >= p.bh) { return; }
  let b = bh / p.heads;
  //$each R_Q
  let row$r = (wg.x * R_Q + $ru) * ROWS + lid;
  var qr$r: array<vec4f, DH4>;    // q * scale * log2(e)
  var dor$r: array<vec4f, DH4>;
  var dqr$r: array<vec4f, DH4>;   // dQ / scale
  var st$r = vec2f(BIG, 0.0);
  if (row$r < p.sq) {
    let q_start = q_row_at(bh, row$r);
    let o_start = o_row_at(bh, row$r);
    for (var c = 0u; c < DH4; c++) {
      qr$r[c] = load_q(q_start, c) * p.scale_log2;
      dor$r[c] = load_do(o_start, c);
    }
    st$r = stats[bh * p.sq + row$r];
  }
  //$end
  for (var k0 = 0u; k0 < p.sk; k0 += TILE) {
    workgroupBarrier();
    stage_keys(bh, b, k0, lid);
    workgroupBarrier();
    let n = min(TILE, p.sk - k0);
    for (var j = 0u; j < n; j++) {
      if (key_real[j] != 0.0) {
        //$each R_Q
        var s$r = 0.0;
        var dp$r = 0.0;
        //$end
        for (var c = 0u; c < DH4; c++) {
          let kc = k_tile[j * DH4 + c];
          let vc = v_tile[j * DH4 + c];
          //$each R_Q
          s$r += dot(qr$r[c], kc);
          dp$r += dot(dor$r[c], vc);
          //$end
        }
        //$each R_Q
        let ds$r = exp2(s$r - st$r.x) * (dp$r - st$r.y);
        //$end
        for (var c = 0u; c < DH4; c++) {
          let kc = k_tile[j * DH4 + c];
          //$each R_Q
          dqr$r[c] += ds$r * kc;
          //$end
        }
      }
    }
  }
  //$each R_Q
  if (row$r < p.sq) {
    let start = q_row_at(bh, row$r);
    for (var c = 0u; c < DH4; c++) { store_dq(start, c, dqr$r[c] * p.scale); }
  }
  //$end
}
