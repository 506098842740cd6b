// patchify(images [B, C, H, W], p) -> [B, (H/p)*(W/p), C*p*p]: the input side of a stride-p
// convolution, so a patch embedding is matmul(patchify(x), W.reshape(D, C*p*p), transB).
// Images are data, never parameters: no backward.
import code from "../../kernels/patchify.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { shapeString, Tensor } from "../tensor/tensor";

const patchifyKernel = kernel("patchify", code);

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
      params: [batch, channels, height, width, patch, gridH, gridW],
      buffers: [images.binding, out.binding],
      workgroups: grid1d(out.size, 256),
    });
  }
  return out;
}
