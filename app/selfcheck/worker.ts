// Owns the GPUDevice and runs the op self-check off the main thread; the page talks to it
// through Comlink.
import * as Comlink from "comlink";
import type { DeviceInfo } from "../../src/gpu/device";
import { Gpu } from "../../src/gpu/gpu";
import { type OnCheckResult, opFamilies, runChecks } from "../../src/ops/checks";

export interface FamilyPlan {
  family: string;
  cases: string[];
}

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
    await runChecks(gpu, onResult);
  },
};

export type SelfCheckApi = typeof api;

Comlink.expose(api);
