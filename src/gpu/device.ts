// Acquires a GPUDevice from whatever WebGPU implementation is given (navigator.gpu in a
// browser, Dawn in Node; see dawn.ts), asking for the features we use and the adapter's limits.
import { NoWebGPUError } from "./errors";

/** Optional features the engine uses when the adapter has them. f32 always works without them. */
export const OPTIONAL_FEATURES: GPUFeatureName[] = ["subgroups", "shader-f16", "timestamp-query"];

/** Limits raised to what the adapter allows (defaults are far below what GPUs offer). */
const RAISED_LIMITS = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
] as const;

export interface DeviceInfo {
  vendor: string;
  architecture: string;
  description: string;
  features: string[];
  limits: Record<string, number>;
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  info: DeviceInfo;
}

export function browserGpu(): GPU {
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  if (!nav?.gpu) {
    throw new NoWebGPUError(
      "This browser does not expose WebGPU (navigator.gpu is missing). Use Chrome or Edge 113+, " +
        "Safari 26+, or Firefox 141+ on Windows; on Linux start Chrome with " +
        "--enable-unsafe-webgpu --enable-features=Vulkan. The page must be served over https or localhost.",
    );
  }
  return nav.gpu;
}

export async function acquireDevice(
  gpu: GPU,
  options: { powerPreference?: GPUPowerPreference; disabledFeatures?: GPUFeatureName[] } = {},
): Promise<AcquiredDevice> {
  const adapter = await gpu.requestAdapter({
    powerPreference: options.powerPreference ?? "high-performance",
  });
  if (!adapter) {
    throw new NoWebGPUError(
      "WebGPU found no GPU adapter. In a browser: enable hardware acceleration (chrome://gpu) or try " +
        "--enable-unsafe-webgpu. In Node: Dawn needs a Vulkan driver; without a GPU point " +
        "VK_ICD_FILENAMES at SwiftShader's vk_swiftshader_icd.json and LD_LIBRARY_PATH at its folder " +
        "(the test runner does this for you from @sparticuz/chromium).",
    );
  }
  const disabled = new Set(options.disabledFeatures ?? []);
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f) && !disabled.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const ai = adapter.info;
  const limits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) limits[name] = device.limits[name];
  return {
    device,
    adapter,
    info: {
      vendor: ai?.vendor ?? "",
      architecture: ai?.architecture ?? "",
      description: ai?.description ?? "",
      features: [...device.features].filter((f) => OPTIONAL_FEATURES.includes(f as GPUFeatureName)).sort(),
      limits,
    },
  };
}
