// patchify(images [B, C, H, W], p) -> [B, (H/p)*(W/p), C*p*p]: the input side of a stride-p
// convolution, so a patch embedding is matmul(patchify(x), W.reshape(D, C*p*p), transB).
// Images are data, never parameters: no backward.
import code from "../../kernels/patchify.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { shapeString, Tensor } from "../tensor/tensor";

const patchifyKernel = kernel({
  name: "patchify",
  file: "patchify.wgsl",
  code,
  params: {
    batch: "u32",
    channels: "u32",
    height: "u32",
    width: "u32",
    size: "u32",
    grid_h: "u32",
    grid_w: "u32",
  },
  bindings: ["images", "patches"],
});

export function patchify(images: Tensor, patch: number): Tensor {
  const [batch, channels, height, width] = images.shape;
  if (images.rank !== 4 || height < patch || width < patch) {
    throw new Error(
      `patchify: images [B, C, H, W] of at least ${patch}x${patch} expected, got ${shapeString(images.shape)}`,
    );
  }
  if (images.requiresGrad) throw new Error("patchify: images take no gradient");
  const gridH = Math.floor(height / patch);
  const gridW = Math.floor(width / patch);
  const out = Tensor.empty(images.gpu, [batch, gridH * gridW, channels * patch * patch]);
  if (out.size) {
    images.gpu.dispatch({
      kernel: patchifyKernel,
      params: { batch, channels, height, width, size: patch, grid_h: gridH, grid_w: gridW },
      buffers: { images: images.binding, patches: out.binding },
      workgroups: grid1d(out.size),
    });
  }
  return out;
}
