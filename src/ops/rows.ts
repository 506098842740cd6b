// Workgroup size of the row kernels (layernorm, normalize, softmax, the distillation and CLIP
// losses): one workgroup per row, sized to the row so short rows do not leave most threads idle.
// On SwiftShader (the CPU Vulkan driver of the tests) every thread of a workgroup costs time at
// each barrier, so fewer threads are much faster (a [64, 768] layernorm forward, measured on a
// busy 2-core machine: about 140 ms with 256 threads, 40 ms with 128, 13 ms with 64).
import type { KernelTarget } from "../gpu/gpu";

/** Row values a thread keeps in registers in the kernels (their CACHE). */
const CACHE = 16;

/**
 * The fewest threads a row kernel's workgroup has: a GPU's 32-wide warp; a CPU adapter's 4
 * (SwiftShader's SIMD width), where a thread more is time at every barrier of the reductions
 * (tips-micro's step on SwiftShader: its 192-wide layernorms at 16 threads, not 32, 1.6 s -> 0.8 s
 * forward and 1.1 s -> 0.6 s backward).
 */
const MIN_THREADS: Record<KernelTarget, number> = { gpu: 32, cpu: 4 };

/**
 * Threads for one row of `cols` values: the smallest power of two from MIN_THREADS to 256 whose
 * registers hold the row (at most CACHE values each): on a GPU 32 threads for rows up to 512
 * values, 64 up to 1024, 128 up to 2048, else 256 (rows past 4096 are walked in tiles). Few sizes
 * keep the pipelines of each kernel few.
 */
export function rowThreads(cols: number, target: KernelTarget): number {
  let threads = MIN_THREADS[target];
  while (threads < 256 && threads * CACHE < cols) threads *= 2;
  return threads;
}
