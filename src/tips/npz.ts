// Official TIPS checkpoints are NumPy .npz files: a zip of .npy arrays keyed by the PyTorch
// state_dict names. This reads them in the browser and in Node (fflate for the zip).
import { unzipSync } from "fflate";
import type { StoredTensor } from "../tensor/safetensors";

export class NpzError extends Error {
  override name = "NpzError";
}

/** One .npy array (format versions 1-3, little-endian, C order) as f32/i32. */
export function parseNpy(bytes: Uint8Array, name = "array"): StoredTensor {
  const fail = (what: string): never => {
    throw new NpzError(`${name}: ${what}`);
  };
  if (bytes.length < 10 || bytes[0] !== 0x93 || new TextDecoder().decode(bytes.subarray(1, 6)) !== "NUMPY") {
    fail("not a .npy array (bad magic)");
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLength > bytes.length) fail("truncated header");
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1] ?? fail(`no dtype in header ${header}`);
  if (/'fortran_order':\s*True/.test(header)) fail("Fortran-ordered arrays are not supported");
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? fail(`no shape in header ${header}`);
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const bodyStart = start + headerLength;
  const size: Record<string, number> = {
    "<f4": 4,
    "<f8": 8,
    "<f2": 2,
    "<i4": 4,
    "<i8": 8,
    "<u4": 4,
    "|u1": 1,
    "|b1": 1,
  };
  const width = size[descr] ?? fail(`dtype ${descr} is not supported (expected little-endian float or int)`);
  if (bodyStart + count * width > bytes.length)
    fail(`truncated data: ${count} values of ${descr} do not fit`);
  const body = new DataView(bytes.buffer, bytes.byteOffset + bodyStart, count * width);
  if (descr === "<f4")
    return {
      dtype: "F32",
      shape,
      data: new Float32Array(bytes.slice(bodyStart, bodyStart + 4 * count).buffer),
    };
  if (descr === "<i4")
    return {
      dtype: "I32",
      shape,
      data: new Int32Array(bytes.slice(bodyStart, bodyStart + 4 * count).buffer),
    };
  if (descr === "<u4")
    return {
      dtype: "U32",
      shape,
      data: new Uint32Array(bytes.slice(bodyStart, bodyStart + 4 * count).buffer),
    };
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    if (descr === "<f8") out[i] = body.getFloat64(8 * i, true);
    else if (descr === "<i8") out[i] = Number(body.getBigInt64(8 * i, true));
    else if (descr === "<f2") out[i] = halfBits(body.getUint16(2 * i, true));
    else out[i] = body.getUint8(i);
  }
  return { dtype: "F32", shape, data: out };
}

function halfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** All arrays of an .npz, by name (the ".npy" suffix removed). */
export function readNpz(bytes: Uint8Array): Map<string, StoredTensor> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (err) {
    throw new NpzError(`not a valid .npz (zip) file: ${(err as Error).message}`);
  }
  const out = new Map<string, StoredTensor>();
  for (const [file, data] of Object.entries(files)) {
    if (!file.endsWith(".npy")) continue;
    const name = file.slice(0, -4);
    out.set(name, parseNpy(data, name));
  }
  if (!out.size) throw new NpzError("the .npz file holds no .npy arrays");
  return out;
}
