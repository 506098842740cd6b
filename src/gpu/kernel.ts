// A kernel is WGSL source (one file of kernels/) plus the entry point to run. Specialisation
// goes through WGSL `override` constants, so one source serves many shapes and variants.
//
// Binding convention for every kernel: @group(0) @binding(0) is a uniform struct of parameters
// (u32/i32/f32 scalars, 4 bytes each), storage buffers follow at bindings 1, 2, ... in the order
// the dispatch lists them.

export interface Kernel {
  /** Name shown in errors and in the profiler. */
  name: string;
  code: string;
  entryPoint: string;
}

export function kernel(name: string, code: string, entryPoint = "main"): Kernel {
  return { name, code, entryPoint };
}

/** Uniform parameter: a number is a u32 (or i32 if negative); f32(x) marks a float. */
export type Param = number | { f32: number };

export function f32(x: number): Param {
  return { f32: x };
}

export function packParams(params: Param[], out: DataView, offset: number): void {
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    const at = offset + 4 * i;
    if (typeof p === "number") {
      if (p < 0) out.setInt32(at, p, true);
      else out.setUint32(at, p, true);
    } else out.setFloat32(at, p.f32, true);
  }
}

export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}

/**
 * Workgroups for n independent items of `perGroup` each. Past 65535 groups in x the grid folds
 * into y; kernels compute the flat index as (wg.y * nwg.x + wg.x) * perGroup + local index and
 * bounds-check it.
 */
export function grid1d(n: number, perGroup: number): [number, number] {
  const groups = Math.max(1, ceilDiv(n, perGroup));
  if (groups <= 65535) return [groups, 1];
  const y = ceilDiv(groups, 65535);
  return [ceilDiv(groups, y), y];
}
