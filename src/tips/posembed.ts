// Resizing the learned position-embedding grid to another patch grid, as the official code does
// (torch.nn.functional.interpolate, bilinear, antialias=True, align_corners=False, to an exact
// size). The resize is linear, so it is a fixed matrix R [outH*outW, inH*inW]: the model computes
// R @ pos_grid with a matmul, and the gradient reaches pos_embed through the same matmul.

/** PyTorch's antialiased bilinear weights along one axis: R1 [out, in], rows sum to 1. */
export function resizeMatrix1d(inSize: number, outSize: number): Float64Array {
  const r = new Float64Array(outSize * inSize);
  const scale = inSize / outSize;
  const support = Math.max(scale, 1);
  const invScale = scale >= 1 ? 1 / scale : 1;
  for (let i = 0; i < outSize; i++) {
    const centre = scale * (i + 0.5);
    const lo = Math.max(Math.trunc(centre - support + 0.5), 0);
    const hi = Math.min(Math.trunc(centre + support + 0.5), inSize);
    let total = 0;
    for (let j = lo; j < hi; j++) {
      const w = Math.max(0, 1 - Math.abs((j - centre + 0.5) * invScale));
      r[i * inSize + j] = w;
      total += w;
    }
    if (total > 0) for (let j = lo; j < hi; j++) r[i * inSize + j] /= total;
  }
  return r;
}

/** The separable 2-D resize as one matrix: [outH*outW, inH*inW], row-major grids. */
export function resizeMatrix2d(inH: number, inW: number, outH: number, outW: number): Float32Array {
  const rh = resizeMatrix1d(inH, outH);
  const rw = resizeMatrix1d(inW, outW);
  const out = new Float32Array(outH * outW * inH * inW);
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      const row = (oy * outW + ox) * inH * inW;
      for (let iy = 0; iy < inH; iy++) {
        const wy = rh[oy * inH + iy];
        if (wy === 0) continue;
        for (let ix = 0; ix < inW; ix++) out[row + iy * inW + ix] = wy * rw[ox * inW + ix];
      }
    }
  }
  return out;
}
