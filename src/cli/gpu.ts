// The GPU for CLI commands: Dawn from the npm package `webgpu`. Without an adapter the error says
// first what to do (bin/tips.mjs --swiftshader restarts the command on SwiftShader).
import { dawnGpu } from "../gpu/dawn";
import { NoWebGPUError } from "../gpu/errors";
import { Gpu } from "../gpu/gpu";

export async function nodeGpu(): Promise<Gpu> {
  const dawn = await dawnGpu(); // its own NoWebGPUError says how to install Dawn
  try {
    return await Gpu.create({ gpu: dawn });
  } catch (err) {
    if (!(err instanceof NoWebGPUError)) throw err;
    const icd = process.env.VK_ICD_FILENAMES;
    throw new NoWebGPUError(
      icd
        ? `no GPU adapter, not even SwiftShader: check VK_ICD_FILENAMES=${icd} and LD_LIBRARY_PATH`
        : "no GPU found: add --swiftshader to run on the CPU (slow; small presets only), or install the GPU's Vulkan driver",
    );
  }
}

export function describeGpu(gpu: Gpu): string {
  const i = gpu.info;
  const name = [i.vendor, i.architecture, i.description].filter(Boolean).join(" ");
  return `${name || "unknown adapter"}${i.features.length ? ` (${i.features.join(", ")})` : ""}`;
}
