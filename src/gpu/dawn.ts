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

/** Dawn toggles for a dry Gpu (counts only): no zeroing of new buffers, which nothing reads. */
export const DRY_DAWN_FLAGS = ["disable-dawn-features=lazy_clear_resource_on_first_use"];

/**
 * How often dawn.node's pending events (mapAsync, onSubmittedWorkDone) are polled, in ms. Dawn
 * pumps them from a native callback that re-arms itself through the global setImmediate for as
 * long as one is pending: a hot loop that keeps a core busy (and the GC: a new function every
 * turn) while the GPU works, the core that SwiftShader and the data workers need. Polled every
 * millisecond instead, a tips-micro step (batch 4) on SwiftShader ran in 13 to 18 s rather than
 * 20 to 26 s on a 2-core machine. Benchmarks pass 0 (Dawn's own loop), which notices finished
 * work soonest.
 */
export const DAWN_POLL_MS = 1;

// On globalThis, not in this module: Vitest may evaluate the module again in the same process.
const POLLED = Symbol.for("tips-webgpu.dawnPollMs");

/** Re-arms Dawn's native event pump (a nameless native function) with a timer of `ms`. */
function pollDawnEvents(ms: number): void {
  const global = globalThis as unknown as Record<symbol, number | undefined>;
  const polled = global[POLLED];
  if (polled !== undefined) {
    if (polled !== ms) throw new Error(`Dawn's events are already polled every ${polled} ms in this process`);
    return;
  }
  global[POLLED] = ms;
  if (ms === 0) return;
  const immediate = globalThis.setImmediate;
  const isDawnPump = (fn: unknown) =>
    typeof fn === "function" &&
    fn.name === "" &&
    Function.prototype.toString.call(fn).endsWith("[native code] }");
  globalThis.setImmediate = Object.assign(
    (callback: (...args: unknown[]) => void, ...args: unknown[]) =>
      isDawnPump(callback) ? setTimeout(callback, ms, ...args) : immediate(callback, ...args),
    immediate,
  ) as typeof setImmediate;
}

export async function dawnGpu(flags: string[] = [], poll = DAWN_POLL_MS): Promise<GPU> {
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
  pollDawnEvents(poll);
  return mod.create(flags);
}
