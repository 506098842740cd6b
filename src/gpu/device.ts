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
  /** The adapter is a fallback (a CPU implementation such as SwiftShader), by its isFallbackAdapter. */
  fallback: boolean;
  features: string[];
  limits: Record<string, number>;
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  info: DeviceInfo;
}

/** Which browsers have WebGPU, and the flags that switch it on where it is off by default. */
const BROWSERS =
  "Use Chrome or Edge 113+, Safari 26+, or Firefox 141+ on Windows; on Linux start Chrome with " +
  "--enable-unsafe-webgpu --enable-features=Vulkan.";

export function browserGpu(): GPU {
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  if (!nav?.gpu) {
    throw new NoWebGPUError(
      `This browser does not expose WebGPU (navigator.gpu is missing). ${BROWSERS} ` +
        "The page must be served over https or localhost.",
    );
  }
  return nav.gpu;
}

/** Where the WebGPU implementation runs decides what a person can do when it has no adapter. */
const NO_ADAPTER = {
  browser:
    "This browser has WebGPU but gave no GPU adapter: turn on hardware acceleration in its " +
    "settings and update the graphics driver (chrome://gpu shows WebGPU's status in Chrome and " +
    `Edge). ${BROWSERS}`,
  node:
    "WebGPU found no GPU adapter: Dawn needs a Vulkan driver; without a GPU point " +
    "VK_ICD_FILENAMES at SwiftShader's vk_swiftshader_icd.json and LD_LIBRARY_PATH at its folder " +
    "(the test runner does this for you from @sparticuz/chromium).",
};

export async function acquireDevice(
  gpu: GPU,
  options: {
    powerPreference?: GPUPowerPreference;
    disabledFeatures?: GPUFeatureName[];
    /** The WebGPU of a web page (navigator.gpu) rather than Dawn in Node. */
    browser?: boolean;
  } = {},
): Promise<AcquiredDevice> {
  const adapter = await gpu.requestAdapter({
    powerPreference: options.powerPreference ?? "high-performance",
  });
  if (!adapter) throw new NoWebGPUError(options.browser ? NO_ADAPTER.browser : NO_ADAPTER.node);
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
      fallback: ai?.isFallbackAdapter ?? false,
      features: [...device.features].filter((f) => OPTIONAL_FEATURES.includes(f as GPUFeatureName)).sort(),
      limits,
    },
  };
}
