// The explicit bind group layout of a kernel's entry point, read from its WGSL: the bindings of
// group 0 that the entry point (or a function it calls) uses, each a uniform (binding 0, at a
// dynamic offset into the parameter arena) or a storage buffer, read-only or read-write.
// Explicit layouts are what let a bind group be made once and reused: the parameters change per
// dispatch through the dynamic offset while the buffers stay the same.
import { KernelError } from "./errors";
import type { Kernel } from "./kernel";

export type BindingKind = "uniform" | "read-only-storage" | "storage";

export interface KernelLayout {
  /** Kinds of bindings 0..n-1; binding 0 is the uniform, or null when the kernel takes no parameters. */
  bindings: (BindingKind | null)[];
  /** Whether binding 0 is the uniform parameter struct. */
  hasParams: boolean;
  /** The same string for the same bindings, so kernels can share a GPUBindGroupLayout. */
  key: string;
}

const DECLARATION =
  /@group\(0\)\s*@binding\((\d+)\)\s*var<\s*(uniform|storage)\s*(?:,\s*(read|read_write)\s*)?>\s*(\w+)/g;
const FUNCTION = /\bfn\s+(\w+)\s*\(/g;
// Not a member (`wg.y`): a field name can be the same as a binding's.
const IDENTIFIER = /(?<![.\w])[A-Za-z_]\w*/g;
const LOCAL = /\b(?:let|var|const)\s+(\w+)|(?<![.\w])(\w+)\s*:(?!:)/g;
const CALL = /(?<![.\w])([A-Za-z_]\w*)\s*\(/g;

function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, " ");
}

interface FunctionRefs {
  /** Identifiers the function's signature and body mention. */
  names: Set<string>;
  /** Of those, the ones called (a local variable can share a function's name). */
  calls: Set<string>;
}

function functionRefs(code: string): Map<string, FunctionRefs> {
  const out = new Map<string, FunctionRefs>();
  for (const m of code.matchAll(FUNCTION)) {
    const open = code.indexOf("{", m.index);
    let depth = 0;
    let end = open;
    for (; end < code.length; end++) {
      if (code[end] === "{") depth++;
      else if (code[end] === "}" && --depth === 0) break;
    }
    const text = code.slice(m.index + m[0].length, end);
    // Parameters and local variables, which can share a binding's name (`let y` beside a `y`).
    const locals = new Set([...text.matchAll(LOCAL)].map((l) => l[1] ?? l[2]));
    out.set(m[1], {
      names: new Set((text.match(IDENTIFIER) ?? []).filter((name) => !locals.has(name))),
      calls: new Set([...text.matchAll(CALL)].map((c) => c[1])),
    });
  }
  return out;
}

export function kernelLayout(k: Kernel): KernelLayout {
  const code = stripComments(k.code);
  const functions = functionRefs(code);
  if (!functions.has(k.entryPoint))
    throw new KernelError(k.name, `no entry point "${k.entryPoint}" in its WGSL`);
  // Identifiers mentioned by the entry point and the functions it calls, directly or not.
  const reached = new Set<string>();
  const called = new Set([k.entryPoint]);
  const pending = [k.entryPoint];
  while (pending.length) {
    const refs = functions.get(pending.pop() as string);
    if (!refs) continue; // a built-in function
    for (const name of refs.names) reached.add(name);
    for (const name of refs.calls) {
      if (called.has(name)) continue;
      called.add(name);
      pending.push(name);
    }
  }
  const kinds: (BindingKind | undefined)[] = [];
  for (const [, binding, space, access, name] of code.matchAll(DECLARATION)) {
    if (!reached.has(name)) continue;
    const kind: BindingKind =
      space === "uniform" ? "uniform" : access === "read_write" ? "storage" : "read-only-storage";
    const at = Number(binding);
    if (kinds[at] && kinds[at] !== kind)
      throw new KernelError(
        k.name,
        `entry point "${k.entryPoint}" uses binding ${at} both as ${kinds[at]} and as ${kind}`,
      );
    kinds[at] = kind;
  }
  const hasParams = kinds[0] === "uniform";
  const ok =
    (kinds[0] === undefined || hasParams) && kinds.slice(1).every((b) => b !== undefined && b !== "uniform");
  // slice(1) of a sparse array keeps its holes, which every() skips: count them too.
  if (!ok || kinds.slice(1).filter((b) => b !== undefined).length !== Math.max(0, kinds.length - 1))
    throw new KernelError(
      k.name,
      `entry point "${k.entryPoint}" must use a uniform at binding 0 (or none) and storage buffers at bindings 1, 2, ... without gaps`,
    );
  const bindings = Array.from(kinds, (b) => b ?? null);
  return { bindings, hasParams, key: bindings.join(",") };
}

/** The GPUBindGroupLayout entries of a kernel layout: binding 0's uniform at a dynamic offset. */
export function layoutEntries(layout: KernelLayout): GPUBindGroupLayoutEntry[] {
  const COMPUTE = 0x4;
  const out: GPUBindGroupLayoutEntry[] = [];
  layout.bindings.forEach((type, binding) => {
    if (type === null) return;
    out.push({ binding, visibility: COMPUTE, buffer: { type, hasDynamicOffset: type === "uniform" } });
  });
  return out;
}
