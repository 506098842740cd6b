// The other WebGPU libraries of the peers benchmark, started on this process's Dawn: jax-js asks
// navigator.gpu for its own adapter and device (its API takes no device), so navigator.gpu is
// our Dawn instance and jax-js gets the same adapter; tfjs-backend-webgpu's backend takes a
// GPUDevice, so it runs on ours.
import type { Gpu } from "../src/gpu/gpu";

export type Jax = typeof import("@jax-js/jax");
export type Tf = typeof import("@tensorflow/tfjs-core");

export interface Peers {
  jax: Jax;
  tf: Tf;
  /** Sends tfjs's batched commands to the queue (it submits every few kernels otherwise). */
  tfSubmit(): void;
}

export async function startPeers(gpu: Gpu, dawn: GPU): Promise<Peers> {
  // Node 20 has no navigator; jax-js reads navigator.userAgent to detect Firefox.
  const nav = (globalThis as { navigator?: { gpu?: GPU; userAgent?: string } }).navigator;
  if (nav) Object.assign(nav, { gpu: dawn, userAgent: nav.userAgent ?? "Node" });
  else Object.assign(globalThis, { navigator: { gpu: dawn, userAgent: "Node" } });
  const jax = await import("@jax-js/jax");
  const started = await jax.init("webgpu");
  if (!started.includes("webgpu"))
    throw new Error("jax-js could not start its WebGPU backend on this adapter");
  jax.defaultDevice("webgpu");

  const tf = await import("@tensorflow/tfjs-core");
  await import("@tensorflow/tfjs-core/dist/register_all_gradients"); // what @tensorflow/tfjs would load
  const { WebGPUBackend } = await import("@tensorflow/tfjs-backend-webgpu");
  // Importing the package registers a "webgpu" backend that would request a device of its own.
  if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
  const adapterInfo = { vendor: gpu.info.vendor, architecture: gpu.info.architecture } as GPUAdapterInfo;
  const backend = new WebGPUBackend(gpu.device, adapterInfo);
  tf.registerBackend("webgpu", () => backend);
  if (!(await tf.setBackend("webgpu")))
    throw new Error("tfjs could not start its WebGPU backend on our device");
  const tfSubmit = () => {
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    backend.submitQueue();
  };
  return { jax, tf, tfSubmit };
}
