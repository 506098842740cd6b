// Official TIPS checkpoints are NumPy .npz files: a zip of .npy arrays keyed by the PyTorch
// state_dict names. This reads them in the browser and in Node (fflate for the zip), entry by
// entry: each entry's declared size is checked against a cap, and its .npy header against that
// size, before its data is inflated, and the data is inflated straight into the array returned.
import { Unzip, type UnzipFile, UnzipInflate } from "fflate";
import { halfToFloat } from "../tensor/half";
import type { StoredTensor } from "../tensor/safetensors";

export class NpzError extends Error {
  override name = "NpzError";
}

export interface NpzLimits {
  /** Largest .npy entry (inflated). */
  entryBytes: number;
  /** Largest sum of all entries (inflated). */
  totalBytes: number;
}

/** The official g encoders' largest array is ~200 MB and the whole vision file ~4.5 GB. */
export const NPZ_LIMITS: NpzLimits = { entryBytes: 2 ** 31 - 1, totalBytes: 16 * 2 ** 30 };

/** Zip bytes pushed at a time: deflate inflates at most ~1000x, so one push inflates at most ~4 MiB. */
const PUSH_BYTES = 4 * 1024;
const MAX_HEADER = 1 << 20;

const WIDTHS: Record<string, number> = {
  "<f4": 4,
  "<f8": 8,
  "<f2": 2,
  "<i4": 4,
  "<i8": 8,
  "<u4": 4,
  "|u1": 1,
  "|b1": 1,
};

interface NpyHeader {
  descr: string;
  shape: number[];
  count: number;
  /** Where the data starts. */
  start: number;
}

/**
 * One .npy array (format versions 1-3, little-endian, C order) fed in pieces: the header is read
 * and checked against the entry's size before the array is allocated; f4/i4/u4 data is written
 * into the array as it comes, other dtypes are converted to f32 as they come.
 */
class NpyReader {
  private head: Uint8Array = new Uint8Array(0);
  private header: NpyHeader | null = null;
  private values: Float32Array | Int32Array | Uint32Array | null = null;
  private received = 0; // data bytes
  private carry: Uint8Array = new Uint8Array(0); // a value split between two pieces

  constructor(
    private readonly name: string,
    private readonly size: number,
  ) {}

  private fail(what: string): never {
    throw new NpzError(`${this.name}: ${what}`);
  }

  push(piece: Uint8Array): void {
    if (!this.header) {
      this.head = concat(this.head, piece);
      this.header = this.readHeader();
      if (!this.header) return;
      piece = this.head.subarray(this.header.start);
      this.head = new Uint8Array(0);
      this.values = this.allocate(this.header);
    }
    const { descr, count } = this.header;
    const width = WIDTHS[descr];
    if (this.received + piece.length > count * width) this.fail("more data than its header says");
    const values = this.values!;
    if (descr === "<f4" || descr === "<i4" || descr === "<u4") {
      new Uint8Array(values.buffer).set(piece, this.received);
    } else {
      const bytes = concat(this.carry, piece);
      const whole = Math.floor(bytes.length / width);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const first = (this.received - this.carry.length) / width;
      for (let i = 0; i < whole; i++) values[first + i] = readValue(view, i * width, descr);
      this.carry = bytes.slice(whole * width);
    }
    this.received += piece.length;
  }

  finish(): StoredTensor {
    if (!this.header)
      return this.fail(this.head.length < 10 ? "not a .npy array (too short)" : "truncated header");
    const { descr, shape, count } = this.header;
    if (this.received < count * WIDTHS[descr])
      this.fail(`truncated data: ${count} values of ${descr} do not fit`);
    const dtype = descr === "<i4" ? "I32" : descr === "<u4" ? "U32" : "F32";
    return { dtype, shape, data: this.values! };
  }

  /** The header once all of it has arrived (null before), checked against the entry's size. */
  private readHeader(): NpyHeader | null {
    const bytes = this.head;
    if (bytes.length < 10) return null;
    if (bytes[0] !== 0x93 || new TextDecoder().decode(bytes.subarray(1, 6)) !== "NUMPY")
      this.fail("not a .npy array (bad magic)");
    const major = bytes[6];
    if (major < 1 || major > 3) this.fail(`unknown .npy format version ${major}`);
    if (major > 1 && bytes.length < 12) return null;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
    const textStart = major === 1 ? 10 : 12;
    if (headerLength > MAX_HEADER) this.fail(`header of ${headerLength} bytes is too long`);
    const start = textStart + headerLength;
    if (start > this.size) this.fail("truncated header");
    if (bytes.length < start) return null;
    const text = new TextDecoder().decode(bytes.subarray(textStart, start));
    const descr =
      /'descr':\s*'([^']+)'/.exec(text)?.[1] ?? this.fail(`no dtype in header ${text.slice(0, 80)}`);
    if (/'fortran_order':\s*True/.test(text)) this.fail("Fortran-ordered arrays are not supported");
    const shapeText =
      /'shape':\s*\(([^)]*)\)/.exec(text)?.[1] ?? this.fail(`no shape in header ${text.slice(0, 80)}`);
    const shape = shapeText
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .map(Number);
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) this.fail(`bad shape (${shapeText})`);
    if (!Object.hasOwn(WIDTHS, descr))
      this.fail(`dtype ${descr} is not supported (expected little-endian float or int)`);
    const count = shape.reduce((a, b) => a * b, 1);
    const needed = start + count * WIDTHS[descr];
    if (needed > this.size)
      this.fail(`truncated data: ${count} values of ${descr} do not fit in ${this.size} bytes`);
    if (needed < this.size) this.fail(`${this.size - needed} bytes after its ${count} values of ${descr}`);
    return { descr, shape, count, start };
  }

  private allocate({ descr, count }: NpyHeader): Float32Array | Int32Array | Uint32Array {
    return descr === "<i4"
      ? new Int32Array(count)
      : descr === "<u4"
        ? new Uint32Array(count)
        : new Float32Array(count);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function readValue(view: DataView, at: number, descr: string): number {
  if (descr === "<f8") return view.getFloat64(at, true);
  if (descr === "<i8") return Number(view.getBigInt64(at, true));
  if (descr === "<f2") return halfToFloat(view.getUint16(at, true));
  return view.getUint8(at);
}

/** One .npy array (format versions 1-3, little-endian, C order) as f32/i32/u32. */
export function parseNpy(bytes: Uint8Array, name = "array"): StoredTensor {
  const reader = new NpyReader(name, bytes.length);
  reader.push(bytes);
  return reader.finish();
}

/** All arrays of an .npz, by name (the ".npy" suffix removed). */
export function readNpz(bytes: Uint8Array, limits: NpzLimits = NPZ_LIMITS): Map<string, StoredTensor> {
  const readers = new Map<string, NpyReader>();
  const finished = new Map<string, StoredTensor>();
  let total = 0;
  let failure: unknown = null;
  const refuse = (file: UnzipFile, error: unknown) => {
    failure ??= error;
    file.terminate();
  };
  const unzip = new Unzip((file) => {
    if (!file.name.endsWith(".npy") || failure) return;
    const name = file.name.slice(0, -4);
    const size = file.originalSize;
    if (size === undefined)
      return refuse(
        file,
        new NpzError(`${name}: the zip entry does not declare its size (written as a stream)`),
      );
    if (size > limits.entryBytes)
      return refuse(
        file,
        new NpzError(`${name}: ${size} bytes is more than the ${limits.entryBytes} an array may have`),
      );
    total += size;
    if (total > limits.totalBytes)
      return refuse(file, new NpzError(`the arrays add up to more than ${limits.totalBytes} bytes`));
    const reader = new NpyReader(name, size);
    readers.set(name, reader);
    file.ondata = (err, piece, final) => {
      if (failure) return;
      try {
        if (err) throw new NpzError(`${name}: the zip entry is damaged (${err.message})`);
        reader.push(piece);
        if (final) finished.set(name, reader.finish());
      } catch (error) {
        refuse(file, error);
      }
    };
    try {
      file.start();
    } catch {
      refuse(file, new NpzError(`${name}: zip compression method ${file.compression} is not supported`));
    }
  });
  unzip.register(UnzipInflate);
  try {
    for (let at = 0; at < bytes.length && !failure; at += PUSH_BYTES)
      unzip.push(bytes.subarray(at, at + PUSH_BYTES), at + PUSH_BYTES >= bytes.length);
  } catch (err) {
    failure ??= new NpzError(`not a valid .npz (zip) file: ${(err as Error).message}`);
  }
  if (failure) throw failure;
  const unfinished = [...readers.keys()].find((name) => !finished.has(name));
  if (unfinished)
    throw new NpzError(`not a valid .npz (zip) file: ${unfinished} is cut short (truncated file)`);
  if (!finished.size) throw new NpzError("not a valid .npz (zip) file: it holds no .npy arrays");
  return finished;
}
