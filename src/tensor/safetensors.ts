// The safetensors format: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {key: string}}, then the raw
// little-endian data. Checkpoints and exported weights use it; a file that does not follow it is
// refused with a message saying what is wrong.
import { halfToFloat } from "./half";

export type StoredDType = "F32" | "I32" | "U32";

export interface StoredTensor {
  dtype: StoredDType;
  shape: number[];
  data: Float32Array | Int32Array | Uint32Array;
}

export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

const BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};
const MAX_HEADER = 100 * 1024 * 1024;

export function encodeSafetensors(
  tensors: Record<string, StoredTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  // No prototype: a tensor named "__proto__" is an entry like any other.
  const header: Record<string, unknown> = Object.create(null);
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(tensors);
  for (const name of names) {
    const t = tensors[name];
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new SafetensorsError(
        `tensor ${name}: shape [${t.shape}] needs ${count} values, has ${t.data.length}`,
      );
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8; // pad with spaces so the data is 8-byte aligned
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

function toF32(dtype: string, raw: Uint8Array): Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = raw.byteLength / BYTES[dtype];
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (dtype === "F64") out[i] = view.getFloat64(8 * i, true);
    else if (dtype === "BF16")
      out[i] = new Float32Array(new Uint32Array([view.getUint16(2 * i, true) << 16]).buffer)[0];
    else out[i] = halfToFloat(view.getUint16(2 * i, true));
  }
  return out;
}

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Reads a safetensors file. F32, I32 and U32 are returned as they are; F64, F16 and BF16 are
 * converted to F32 (official weights are F32; conversions only widen or keep precision). The
 * whole header is checked (dtypes, shapes, offsets in range, neither overlapping nor leaving gaps)
 * before any tensor is allocated, so a header that lies costs nothing.
 */
export function decodeSafetensors(bytes: Uint8Array): {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
} {
  const fail = (what: string): never => {
    throw new SafetensorsError(`not a valid safetensors file: ${what}`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for the 8-byte header length`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > MAX_HEADER || 8 + headerLength > bytes.length) {
    fail(
      `header length ${headerLength} does not fit in ${bytes.length} bytes (truncated or not safetensors)`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (err) {
    return fail(`header is not UTF-8 JSON (${(err as Error).message})`);
  }
  if (!isObject(header)) return fail("header is not a JSON object");
  const data = bytes.subarray(8 + headerLength);
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (!isObject(value)) fail("__metadata__ is not a JSON object");
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`metadata ${k} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    entries.push(checkEntry(name, value, fail));
  }
  entries.sort((a, b) => a.begin - b.begin);
  let covered = 0;
  for (const { begin, end, name } of entries) {
    if (begin !== covered)
      fail(`tensor ${name} starts at byte ${begin}, expected ${covered} (overlap or gap)`);
    if (end > data.length)
      fail(`tensor ${name} ends at byte ${end} but the data has ${data.length} (truncated file)`);
    covered = end;
  }
  if (covered !== data.length) fail(`${data.length - covered} bytes after the last tensor`);

  const tensors = new Map<string, StoredTensor>();
  for (const { name, dtype, shape, begin, end } of entries) {
    const raw = data.slice(begin, end);
    const values =
      dtype === "F32"
        ? new Float32Array(raw.buffer)
        : dtype === "I32"
          ? new Int32Array(raw.buffer)
          : dtype === "U32"
            ? new Uint32Array(raw.buffer)
            : toF32(dtype, raw);
    const stored = dtype === "I32" || dtype === "U32" ? dtype : "F32";
    tensors.set(name, { dtype: stored, shape, data: values });
  }
  return { tensors, metadata };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** One header entry checked: known dtype, integer shape, offsets that hold exactly shape x dtype bytes. */
function checkEntry(name: string, value: unknown, fail: (what: string) => never): Entry {
  if (!isObject(value)) return fail(`tensor ${name} is not a JSON object`);
  const dtype = String(value.dtype);
  if (!Object.hasOwn(BYTES, dtype)) fail(`tensor ${name} has unknown dtype ${dtype}`);
  if (!["F32", "I32", "U32", "F64", "F16", "BF16"].includes(dtype)) {
    throw new SafetensorsError(
      `tensor ${name}: dtype ${dtype} is not supported (use F32, F16, BF16, F64, I32 or U32)`,
    );
  }
  const shape = value.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    fail(`tensor ${name} has a bad shape`);
  const offsets = value.data_offsets;
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
  ) {
    fail(`tensor ${name} has bad data_offsets`);
  }
  const [begin, end] = offsets as [number, number];
  // The product in floating point is exact up to 2^53, and past that no safe offsets can match it.
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  if (end - begin !== count * BYTES[dtype])
    fail(`tensor ${name}: ${end - begin} bytes for [${shape}] ${dtype} values`);
  return { name, dtype, shape: shape as number[], begin, end };
}
