// A Tensor is a shape, a dtype and a GPU buffer from the pool. Tensors are always contiguous
// (row-major); reshape shares the buffer. Every tensor is released deterministically: either
// by dispose(), `using`, or by the tidy() scope it was created in (scope.ts).
import type { Gpu } from "../gpu/gpu";
import { track } from "./scope";

export type DType = "f32" | "i32" | "u32";
export type TypedArray = Float32Array | Int32Array | Uint32Array;

/** A pooled GPU buffer shared by a tensor and its reshaped views. */
class Storage {
  refs = 1;
  constructor(
    readonly gpu: Gpu,
    readonly buffer: GPUBuffer,
  ) {}
}

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
  ) {
    this.size = numel(shape);
    track(this);
  }

  static empty(gpu: Gpu, shape: readonly number[], dtype: DType = "f32"): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`invalid tensor shape ${shapeString(shape)}`);
    }
    const bytes = Math.max(4, numel(shape) * 4);
    return new Tensor([...shape], dtype, new Storage(gpu, gpu.alloc(bytes)));
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
    return new Tensor(resolved, this.dtype, this.storage);
  }

  /** Overwrites this tensor's values with src's (same size), in stream order: in-place updates. */
  assign(src: Tensor): void {
    if (src.size !== this.size || src.dtype !== this.dtype) {
      throw new Error(`assign: ${src.describe()} does not fit ${this.describe()}`);
    }
    if (this.size) this.gpu.copy(src.buffer, this.buffer, this.size * 4);
  }

  async read(): Promise<TypedArray> {
    const bytes = await this.gpu.read(this.buffer, this.size * 4);
    if (this.dtype === "f32") return new Float32Array(bytes);
    return this.dtype === "i32" ? new Int32Array(bytes) : new Uint32Array(bytes);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (--this.storage.refs === 0) this.storage.gpu.release(this.storage.buffer);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
