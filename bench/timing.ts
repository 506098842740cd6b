// Times recorded GPU work: warm-up, then the median of several repetitions of `iterations` calls,
// each repetition measured by wall clock around a full queue drain (gpu.sync), so that every
// figure includes what the GPU really did and nothing of the CPU's recording overlaps unseen.
import type { Gpu } from "../src/gpu/gpu";
import { tidy } from "../src/tensor/scope";

export interface Timing {
  /** Median milliseconds per call. */
  ms: number;
}

export async function timeGpu(gpu: Gpu, fn: () => void, iterations: number, repeats = 5): Promise<Timing> {
  tidy(fn);
  await gpu.sync();
  const samples: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) tidy(fn);
    await gpu.sync();
    samples.push((performance.now() - start) / iterations);
  }
  samples.sort((a, b) => a - b);
  return { ms: samples[Math.floor(samples.length / 2)] };
}
