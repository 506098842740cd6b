// A kernel is WGSL source (one file of kernels/, with the kernels/lib/ files it includes) plus
// the entry point to run, and its contract: the uniform parameters by name and WGSL type, in the
// order of the WGSL `struct Params` at @binding(0), and the storage buffers by name, in the order
// of their @binding numbers 1, 2, ... A dispatch gives both as records, typed from the kernel's
// declaration, so a missing or misspelt name fails to compile; when the pipeline is made
// (layout.ts) the declaration is checked against the WGSL. Specialisation goes through WGSL
// `override` constants, so one source serves many shapes and variants.
import { KernelError } from "./errors";
import { includeWgsl, WG, type WgslSource } from "./wgsl-lib";

/** The uniform field types a kernel's parameters may have, spelt as in WGSL. */
export type ParamType = "u32" | "i32" | "f32" | "array<vec4u, 2>";
export type ParamTypes = Readonly<Record<string, ParamType>>;

/** A dispatch's parameter values: a number per scalar, up to 8 numbers per array<vec4u, 2> (zero-padded). */
export type ParamValues<P extends ParamTypes> = {
  readonly [K in keyof P]: P[K] extends "array<vec4u, 2>" ? readonly number[] : number;
};

/** A parameter's place in the uniform struct, worked out once per kernel. */
export interface ParamField {
  name: string;
  type: ParamType;
  /** Byte offset in the struct, by WGSL's uniform layout rules. */
  offset: number;
}

export interface Kernel<P extends ParamTypes = ParamTypes, B extends string = string> {
  /** Name shown in errors and in the profiler. */
  name: string;
  /** The WGSL with its includes resolved. */
  code: string;
  entryPoint: string;
  /** The parameter record as declared (empty: the kernel takes none). */
  params: P;
  /** Storage buffer names, at bindings 1, 2, ... */
  bindings: readonly B[];
  /** The parameters in struct order with their offsets. */
  fields: readonly ParamField[];
  /** Where each line of `code` came from, for compile errors. */
  source: WgslSource;
}

export interface KernelSpec<P extends ParamTypes, B extends string> {
  name: string;
  code: string;
  entryPoint?: string;
  /** What compile errors call the kernel's own source (e.g. "layernorm.wgsl"); the name by default. */
  file?: string;
  /** WGSL the op writes for this variant (loaders, constants), put after `code`. */
  generated?: string;
  params?: P;
  bindings: readonly B[];
}

/** Bytes and alignment of each parameter type in a uniform struct. */
const TYPE_LAYOUT: Record<ParamType, { size: number; align: number }> = {
  u32: { size: 4, align: 4 },
  i32: { size: 4, align: 4 },
  f32: { size: 4, align: 4 },
  "array<vec4u, 2>": { size: 32, align: 16 },
};

/**
 * Bytes of one dispatch's parameters: its slot in gpu.ts's parameter arena, whose dynamic offsets
 * step by minUniformBufferOffsetAlignment (256 on every adapter).
 */
export const PARAM_SLOT = 256;

export function kernel<const P extends ParamTypes = Record<never, ParamType>, const B extends string = never>(
  spec: KernelSpec<P, B>,
): Kernel<P, B> {
  const params = spec.params ?? ({} as P);
  const fields: ParamField[] = [];
  let offset = 0;
  for (const [name, type] of Object.entries(params)) {
    const layout = TYPE_LAYOUT[type];
    if (!layout)
      throw new KernelError(
        spec.name,
        `parameter "${name}" has type "${type}", not one of u32, i32, f32, array<vec4u, 2>`,
      );
    offset = Math.ceil(offset / layout.align) * layout.align;
    fields.push({ name, type, offset });
    offset += layout.size;
  }
  if (offset > PARAM_SLOT)
    throw new KernelError(spec.name, `its parameters take ${offset} bytes, more than ${PARAM_SLOT}`);
  const file = spec.file ?? spec.name;
  const sources = [{ file, text: spec.code }];
  if (spec.generated) sources.push({ file: `${file} (generated)`, text: spec.generated });
  const source = includeWgsl(spec.name, sources);
  return {
    name: spec.name,
    code: source.code,
    entryPoint: spec.entryPoint ?? "main",
    params,
    bindings: spec.bindings,
    fields,
    source,
  };
}

/** Writes a dispatch's parameters at their struct offsets from `at`; a missing array entry is 0. */
export function packParams(
  fields: readonly ParamField[],
  values: Readonly<Record<string, unknown>>,
  out: DataView,
  at: number,
): void {
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i];
    const value = values[field.name];
    const offset = at + field.offset;
    switch (field.type) {
      case "u32":
        out.setUint32(offset, value as number, true);
        break;
      case "i32":
        out.setInt32(offset, value as number, true);
        break;
      case "f32":
        out.setFloat32(offset, value as number, true);
        break;
      default: {
        const list = value as readonly number[];
        if (list.length > 8)
          throw new Error(`parameter "${field.name}" has ${list.length} values, at most 8 fit`);
        for (let j = 0; j < 8; j++) out.setUint32(offset + 4 * j, list[j] ?? 0, true);
      }
    }
  }
}

export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}

/**
 * Workgroups for n independent items of `perGroup` each (by default WG, a flat kernel's
 * workgroup). Past 65535 groups in x the grid folds into y; kernels compute the flat index as
 * (wg.y * nwg.x + wg.x) * perGroup + local index (kernels/lib/flat_index.wgsl) and bounds-check it.
 */
export function grid1d(n: number, perGroup = WG): [number, number] {
  const groups = Math.max(1, ceilDiv(n, perGroup));
  if (groups <= 65535) return [groups, 1];
  const y = ceilDiv(groups, 65535);
  return [ceilDiv(groups, y), y];
}
