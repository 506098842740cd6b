// Node only: Dawn's WebGPU from the npm package `webgpu`, or from the dawn.node at
// $DAWN_NODE_PATH (the GPU machine, where node_modules does not travel).
import { createRequire } from "node:module";
import { NoWebGPUError } from "./errors";

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

/** Dawn toggles for benchmarks: no bounds clamping, no zero-init, unquantised timestamps. */
export const FAST_DAWN_FLAGS = [
  "enable-dawn-features=allow_unsafe_apis,disable_robustness,skip_validation,disable_workgroup_init",
  "disable-dawn-features=timestamp_quantization,lazy_clear_resource_on_first_use",
];

export async function dawnGpu(flags: string[] = []): Promise<GPU> {
  let mod: DawnModule;
  const path = process.env.DAWN_NODE_PATH;
  try {
    mod = path
      ? (createRequire(import.meta.url)(path) as DawnModule)
      : ((await import("webgpu")) as DawnModule);
  } catch (err) {
    throw new NoWebGPUError(
      `Could not load Dawn (${path ? `DAWN_NODE_PATH=${path}` : "npm package 'webgpu'"}): ${(err as Error).message}. ` +
        "Run `npm ci`, or set DAWN_NODE_PATH to a dawn.node built for this platform.",
    );
  }
  Object.assign(globalThis, mod.globals);
  return mod.create(flags);
}
