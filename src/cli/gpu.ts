// The GPU for CLI commands: Dawn from the npm package `webgpu`, with a hint for machines without
// a GPU (bin/tips.mjs --swiftshader restarts the command on SwiftShader).
import { dawnGpu } from "../gpu/dawn";
import { NoWebGPUError } from "../gpu/errors";
import { Gpu } from "../gpu/gpu";

export async function nodeGpu(): Promise<Gpu> {
  try {
    return await Gpu.create({ gpu: await dawnGpu() });
  } catch (err) {
    if (err instanceof NoWebGPUError && !process.env.VK_ICD_FILENAMES) {
      err.message += " Without a GPU, add --swiftshader to run on the CPU (slow; for small presets).";
    }
    throw err;
  }
}

export function describeGpu(gpu: Gpu): string {
  const i = gpu.info;
  const name = [i.vendor, i.architecture, i.description].filter(Boolean).join(" ");
  return `${name || "unknown adapter"}${i.features.length ? ` (${i.features.join(", ")})` : ""}`;
}
