// A Tensor is a shape, a dtype and a GPU buffer from the pool. Tensors are always contiguous
// (row-major); reshape shares the buffer. Every tensor is released deterministically: either
// by dispose(), `using`, or by the tidy() scope it was created in (scope.ts).
import type { Gpu } from "../gpu/gpu";
import { keep as keepView, track } from "./scope";
import { made, record } from "./tape";

export type DType = "f32" | "i32" | "u32";
export type TypedArray = Float32Array | Int32Array | Uint32Array;

/**
 * A GPU buffer shared by a tensor and its views. Pooled storage goes back to the pool when
 * the last view is disposed; a Slab's storage belongs to the slab (and may be re-pointed to a
 * larger buffer when the slab grows: every view follows).
 */
class Storage {
  refs = 1;
  constructor(
    readonly gpu: Gpu,
    public buffer: GPUBuffer,
    readonly pooled: boolean,
  ) {}
}

/** Views into one buffer must start at multiples of this (minStorageBufferOffsetAlignment). */
export const VIEW_ALIGN = 256;

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly size: number;
  /** Set on parameters and on outputs of recorded ops that depend on them. */
  requiresGrad = false;
  /** Name of a parameter (for checkpoints and error messages). */
  name = "";
  private disposed = false;

  private constructor(
    readonly shape: readonly number[],
    readonly dtype: DType,
    private storage: Storage,
    /** Byte offset of the first element in the buffer (non-zero only for slab views). */
    readonly offset = 0,
  ) {
    this.size = numel(shape);
    track(this);
    made(this);
  }

  static empty(gpu: Gpu, shape: readonly number[], dtype: DType = "f32"): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`invalid tensor shape ${shapeString(shape)}`);
    }
    const bytes = Math.max(4, numel(shape) * 4);
    return new Tensor([...shape], dtype, new Storage(gpu, gpu.alloc(bytes), true));
  }

  /** A view into a slab's storage (see Slab). Not scope-tracked: the slab's owner disposes it. */
  static slabView(storage: Storage, shape: readonly number[], dtype: DType, offset: number): Tensor {
    storage.refs++;
    return keepView(new Tensor([...shape], dtype, storage, offset));
  }

  /**
   * f32 tensors of `shapes` in one pooled buffer at VIEW_ALIGN-aligned offsets, for a kernel that
   * writes several outputs through one binding; each is disposed on its own.
   */
  static packed(gpu: Gpu, shapes: readonly (readonly number[])[]): Tensor[] {
    const offsets: number[] = [];
    let bytes = 0;
    for (const shape of shapes) {
      offsets.push(bytes);
      bytes += Math.ceil(Math.max(4, numel(shape) * 4) / VIEW_ALIGN) * VIEW_ALIGN;
    }
    const storage = new Storage(gpu, gpu.alloc(bytes), true);
    storage.refs = shapes.length;
    return shapes.map((shape, i) => new Tensor([...shape], "f32", storage, offsets[i]));
  }

  static from(gpu: Gpu, data: ArrayLike<number>, shape: readonly number[], dtype: DType = "f32"): Tensor {
    if (data.length !== numel(shape)) {
      throw new Error(`Tensor.from: ${data.length} values do not fill shape ${shapeString(shape)}`);
    }
    const t = Tensor.empty(gpu, shape, dtype);
    const typed =
      dtype === "f32"
        ? Float32Array.from(data)
        : dtype === "i32"
          ? Int32Array.from(data)
          : Uint32Array.from(data);
    if (typed.length) gpu.write(t.buffer, typed);
    return t;
  }

  get gpu(): Gpu {
    return this.storage.gpu;
  }

  get buffer(): GPUBuffer {
    if (this.disposed) throw new Error(`tensor ${this.describe()} used after dispose`);
    return this.storage.buffer;
  }

  /** What a kernel binds: the buffer range holding this tensor's elements. */
  get binding(): GPUBufferBinding {
    return { buffer: this.buffer, offset: this.offset, size: Math.max(4, this.size * 4) };
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  describe(): string {
    return `${this.name || `#${this.id}`} ${this.dtype}${shapeString(this.shape)}`;
  }

  /** A view with another shape of the same number of elements, sharing the buffer. */
  reshape(shape: readonly number[]): Tensor {
    const resolved = [...shape];
    const infer = resolved.indexOf(-1);
    if (infer >= 0) resolved[infer] = this.size / numel(resolved.filter((_, i) => i !== infer));
    if (numel(resolved) !== this.size) {
      throw new Error(`reshape: ${this.describe()} cannot become ${shapeString(shape)}`);
    }
    void this.buffer; // throws if disposed
    this.storage.refs++;
    const view = new Tensor(resolved, this.dtype, this.storage, this.offset);
    return record("reshape", [this], view, (d) => [d.reshape(this.shape)]);
  }

  /** Overwrites this tensor's values with src's (same size), in stream order: in-place updates. */
  assign(src: Tensor): void {
    if (src.size !== this.size || src.dtype !== this.dtype) {
      throw new Error(`assign: ${src.describe()} does not fit ${this.describe()}`);
    }
    if (this.size) this.gpu.copy(src.buffer, this.buffer, this.size * 4, src.offset, this.offset);
  }

  async read(): Promise<TypedArray> {
    const bytes = await this.gpu.read(this.buffer, this.size * 4, this.offset);
    if (this.dtype === "f32") return new Float32Array(bytes);
    return this.dtype === "i32" ? new Int32Array(bytes) : new Uint32Array(bytes);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (--this.storage.refs === 0 && this.storage.pooled) this.storage.gpu.release(this.storage.buffer);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * One growable GPU buffer holding many tensors at aligned offsets: all parameters (or all their
 * gradients, or optimiser moments) in one place, so an optimiser step, an EMA update or a
 * gradient norm is one dispatch over everything. Views stay valid when the slab grows.
 */
export class Slab {
  private storage: Storage;
  /** Bytes in use (the next view starts here). */
  used = 0;

  constructor(
    readonly gpu: Gpu,
    initialBytes = 1 << 16,
  ) {
    this.storage = new Storage(gpu, Slab.create(gpu, initialBytes), false);
  }

  private static create(gpu: Gpu, bytes: number): GPUBuffer {
    return gpu.pool.createUnpooled(bytes);
  }

  get buffer(): GPUBuffer {
    return this.storage.buffer;
  }

  /** Elements in use, as f32 slots (views are padded to VIEW_ALIGN bytes). */
  get length(): number {
    return this.used / 4;
  }

  /** A new view of `shape` at the end of the slab (growing it if needed). Not scope-tracked. */
  push(shape: readonly number[], dtype: DType = "f32"): Tensor {
    const bytes = Math.ceil(Math.max(4, numel(shape) * 4) / VIEW_ALIGN) * VIEW_ALIGN;
    if (this.used + bytes > this.buffer.size) this.resize(Math.max(2 * this.buffer.size, this.used + bytes));
    const t = Tensor.slabView(this.storage, shape, dtype, this.used);
    this.used += bytes;
    return t;
  }

  /** A view of the whole used range as one flat f32 tensor (for optimiser kernels). */
  flat(): Tensor {
    return Tensor.slabView(this.storage, [this.length], "f32", 0);
  }

  /**
   * Gives back the spare room growth left (up to half the buffer): called once a model's last
   * parameter exists, so a store holds what it uses, like the mirrors made from it.
   */
  fit(): void {
    const bytes = Math.max(this.used, VIEW_ALIGN);
    if (bytes < this.buffer.size) this.resize(bytes);
  }

  private resize(bytes: number): void {
    const old = this.storage.buffer;
    const next = Slab.create(this.gpu, Math.ceil(bytes / VIEW_ALIGN) * VIEW_ALIGN);
    if (this.used) this.gpu.copy(old, next, this.used);
    this.gpu.flush();
    this.storage.buffer = next;
    this.gpu.pool.destroyUnpooled(old);
  }

  destroy(): void {
    this.gpu.pool.destroyUnpooled(this.storage.buffer);
  }
}
