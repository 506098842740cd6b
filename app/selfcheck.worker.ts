// Owns the GPUDevice and runs the op self-check off the main thread; the page talks to it
// through Comlink.
import * as Comlink from "comlink";
import type { DeviceInfo } from "../src/gpu/device";
import { Gpu } from "../src/gpu/gpu";
import { type CheckResult, checkOp } from "../src/ops/check";
import { opFamilies } from "../src/ops/checks";

export interface FamilyPlan {
  family: string;
  cases: string[];
}

export type OnCheckResult = (family: string, index: number, result: CheckResult) => void;

let gpu: Gpu | null = null;

const api = {
  /** Acquires the GPU (throws NoWebGPUError without WebGPU) and describes it. */
  async start(): Promise<DeviceInfo> {
    gpu ??= await Gpu.create();
    return gpu.info;
  },

  plan(): FamilyPlan[] {
    return Object.entries(opFamilies).map(([family, cases]) => ({ family, cases: cases.map((c) => c.name) }));
  },

  /** Checks every case in order, reporting each result as soon as it is known. */
  async run(onResult: OnCheckResult): Promise<void> {
    if (!gpu) throw new Error("start() must acquire the GPU before run()");
    for (const [family, cases] of Object.entries(opFamilies)) {
      for (const [index, c] of cases.entries()) {
        let result: CheckResult;
        try {
          result = await checkOp(gpu, c);
        } catch (err) {
          // A failing kernel is one failed case; the rest of the check goes on.
          const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
          result = { name: c.name, ok: false, forwardError: Number.NaN, gradError: null, message };
        }
        onResult(family, index, result);
      }
    }
  },
};

export type SelfCheckApi = typeof api;

Comlink.expose(api);
