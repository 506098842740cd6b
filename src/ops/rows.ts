// Workgroup size of the row kernels (layernorm, normalize, softmax, the distillation and CLIP
// losses): one workgroup per row, sized to the row so short rows do not leave most threads idle.
// On SwiftShader (the CPU Vulkan driver of the tests) every thread of a workgroup costs time at
// each barrier, so fewer threads are much faster (a [64, 768] layernorm forward, measured on a
// busy 2-core machine: about 140 ms with 256 threads, 40 ms with 128, 13 ms with 64).

/** Row values a thread keeps in registers in the kernels (their CACHE). */
const CACHE = 16;

/**
 * Threads for one row of `cols` values: the smallest power of two from 32 to 256 whose
 * registers hold the row (at most CACHE values each): 32 threads for rows up to 512 values, 64
 * up to 1024, 128 up to 2048, else 256 (rows past 4096 are walked in tiles). Four values keep
 * the pipelines of each kernel few.
 */
export function rowThreads(cols: number): number {
  let threads = 32;
  while (threads < 256 && threads * CACHE < cols) threads *= 2;
  return threads;
}
