// Crops of decoded images, resampled to S x S, flipped, scaled to [0, 1], as [N, 3, S, S] f32.
// Source images are RGBA8 packed one pixel per u32 (little-endian: r in the low byte), several
// images of any sizes one after another in `pixels`. Each output crop has a row in `crops`:
//   [pixel offset of its image, image width, image height, flip (bit 0) | taps << 1,
//    crop x0, crop y0, crop width, crop height (source pixels, floats as bits)]
// Resampling is bilinear (pixel centres, clamped at the borders); when a crop shrinks, each
// output pixel averages taps x taps bilinear samples spread over its footprint (antialiasing).
// Taps are per crop: a crop that is not shrunk stays plain bilinear (the identity at 1:1).

#include flat_index

struct Params {
  n: u32,      // crops
  size: u32,   // S
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pixels: array<u32>;
@group(0) @binding(2) var<storage, read> crops: array<vec4u>;   // two vec4u per crop
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn texel(base: u32, w: u32, h: u32, x: i32, y: i32) -> vec3f {
  let cx = u32(clamp(x, 0, i32(w) - 1));
  let cy = u32(clamp(y, 0, i32(h) - 1));
  return unpack4x8unorm(pixels[base + cy * w + cx]).rgb;
}

fn bilinear(base: u32, w: u32, h: u32, sx: f32, sy: f32) -> vec3f {
  let fx = sx - 0.5;
  let fy = sy - 0.5;
  let x0 = i32(floor(fx));
  let y0 = i32(floor(fy));
  let ax = fx - floor(fx);
  let ay = fy - floor(fy);
  let top = mix(texel(base, w, h, x0, y0), texel(base, w, h, x0 + 1, y0), ax);
  let bottom = mix(texel(base, w, h, x0, y0 + 1), texel(base, w, h, x0 + 1, y0 + 1), ax);
  return mix(top, bottom, ay);
}

@compute @workgroup_size(WG)
fn crop(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wg, nwg, lid.x);
  let plane = p.size * p.size;
  if (i >= p.n * plane) { return; }
  let c = i / plane;
  let pix = i - c * plane;
  let oy = pix / p.size;
  var ox = pix - oy * p.size;
  let head = crops[2u * c];
  let box = bitcast<vec4f>(crops[2u * c + 1u]);
  if ((head.w & 1u) == 1u) { ox = p.size - 1u - ox; }
  let taps = head.w >> 1u;
  let step = box.zw / f32(p.size);          // source pixels per output pixel
  var acc = vec3f(0.0);
  for (var ty = 0u; ty < taps; ty++) {
    for (var tx = 0u; tx < taps; tx++) {
      let u = (f32(ox) + (f32(tx) + 0.5) / f32(taps)) * step.x + box.x;
      let v = (f32(oy) + (f32(ty) + 0.5) / f32(taps)) * step.y + box.y;
      acc += bilinear(head.x, head.y, head.z, u, v);
    }
  }
  acc /= f32(taps * taps);
  out[(c * 3u + 0u) * plane + pix] = acc.r;
  out[(c * 3u + 1u) * plane + pix] = acc.g;
  out[(c * 3u + 2u) * plane + pix] = acc.b;
}
