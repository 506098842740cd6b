// The explicit bind group layout of a kernel's entry point, read from its WGSL: the bindings of
// group 0 that the entry point (or a function it calls) uses, each a uniform (binding 0, at a
// dynamic offset into the parameter arena) or a storage buffer, read-only or read-write.
// Explicit layouts are what let a bind group be made once and reused: the parameters change per
// dispatch through the dynamic offset while the buffers stay the same.
// Reading the layout also checks the kernel's contract (kernel.ts) against the WGSL: its
// parameters against the uniform's struct (names, types, order), its binding names against the
// storage buffers the entry point uses. The first difference throws a KernelError.
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
  /@group\(0\)\s*@binding\((\d+)\)\s*var<\s*(uniform|storage)\s*(?:,\s*(read|read_write)\s*)?>\s*(\w+)\s*:\s*(\w+)/g;
const STRUCT = /\bstruct\s+(\w+)\s*\{([^}]*)\}/g;
const MEMBER = /(\w+)\s*:\s*(array\s*<[^>]*>|\w+)/g;
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

/** What an entry point's WGSL declares: its bindings' kinds and names, and its uniform struct. */
export interface WgslInterface {
  /** By binding number; binding 0 is the uniform, or null when the entry point reads none. */
  bindings: (BindingKind | null)[];
  /** The variable's name at each binding. */
  names: string[];
  /** The uniform struct's members in order (type without whitespace); null without a uniform. */
  params: { name: string; type: string }[] | null;
}

/** Reads an entry point's interface from its WGSL (k.code with its includes resolved). */
export function wgslInterface(k: Pick<Kernel, "name" | "code" | "entryPoint">): WgslInterface {
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
  const names: string[] = [];
  let paramsType: string | null = null;
  for (const [, binding, space, access, name, type] of code.matchAll(DECLARATION)) {
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
    names[at] = name;
    if (kind === "uniform") paramsType = type;
  }
  const ok =
    (kinds[0] === undefined || kinds[0] === "uniform") &&
    kinds.slice(1).every((b) => b !== undefined && b !== "uniform");
  // slice(1) of a sparse array keeps its holes, which every() skips: count them too.
  if (!ok || kinds.slice(1).filter((b) => b !== undefined).length !== Math.max(0, kinds.length - 1))
    throw new KernelError(
      k.name,
      `entry point "${k.entryPoint}" must use a uniform at binding 0 (or none) and storage buffers at bindings 1, 2, ... without gaps`,
    );
  return {
    bindings: Array.from(kinds, (b) => b ?? null),
    names,
    params: paramsType ? structMembers(code, paramsType) : null,
  };
}

/** The kernel's layout, once its contract has been checked against its WGSL. */
export function kernelLayout(k: Kernel): KernelLayout {
  const wgsl = wgslInterface(k);
  checkBindings(k, wgsl.names.slice(1));
  checkParams(k, wgsl.params);
  const bindings = wgsl.bindings;
  return { bindings, hasParams: bindings[0] === "uniform", key: bindings.join(",") };
}

function checkBindings(k: Kernel, wgsl: string[]): void {
  const n = Math.max(wgsl.length, k.bindings.length);
  for (let i = 0; i < n; i++) {
    if (wgsl[i] === k.bindings[i]) continue;
    const declared = k.bindings[i] === undefined ? "nothing" : `"${k.bindings[i]}"`;
    const used = wgsl[i] === undefined ? "no buffer" : `"${wgsl[i]}"`;
    throw new KernelError(
      k.name,
      `entry point "${k.entryPoint}" uses ${used} at binding ${i + 1}, the kernel's bindings name ${declared} there (bindings: ${wgsl.join(", ")})`,
    );
  }
}

/** The members of a WGSL struct, in order: name and type (whitespace removed). */
function structMembers(code: string, struct: string): { name: string; type: string }[] {
  for (const [, name, body] of code.matchAll(STRUCT))
    if (name === struct)
      return [...body.matchAll(MEMBER)].map((m) => ({ name: m[1], type: m[2].replace(/\s/g, "") }));
  return [];
}

function checkParams(k: Kernel, wgsl: { name: string; type: string }[] | null): void {
  if (wgsl === null) {
    if (k.fields.length)
      throw new KernelError(
        k.name,
        `entry point "${k.entryPoint}" reads no uniform at binding 0, but the kernel declares parameters`,
      );
    return;
  }
  const n = Math.max(wgsl.length, k.fields.length);
  for (let i = 0; i < n; i++) {
    const field = k.fields[i];
    const member = wgsl[i];
    if (field && member && field.name === member.name && field.type.replace(/\s/g, "") === member.type)
      continue;
    const declared = field ? `${field.name}: ${field.type}` : "nothing";
    const used = member ? `${member.name}: ${member.type}` : "nothing";
    throw new KernelError(
      k.name,
      `parameter ${i + 1} is ${used} in the WGSL's uniform struct, ${declared} in the kernel's params (the struct: ${wgsl.map((m) => m.name).join(", ")})`,
    );
  }
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
