// Named parameters in one slab (one GPU buffer), in creation order: the tensors an optimiser
// updates in one dispatch and a checkpoint stores. Mirrors (gradients, Adam moments, an EMA
// teacher) are slabs with the identical layout, so flat element i means the same thing in all.
import type { Gpu } from "../gpu/gpu";
import { type DType, Slab, shapeString, type Tensor } from "./tensor";

export interface ParamOptions {
  /** Apply weight decay (default: true for matrices, false for vectors: norms, biases, gammas). */
  decay?: boolean;
  dtype?: DType;
}

export class ParameterStore {
  readonly slab: Slab;
  private byName = new Map<string, Tensor>();
  private decays = new Map<Tensor, boolean>();

  constructor(readonly gpu: Gpu) {
    this.slab = new Slab(gpu);
  }

  /** Creates a parameter from initial values; names are unique (e.g. "blocks.0.attn.qkv.weight"). */
  create(name: string, shape: number[], values: ArrayLike<number>, options: ParamOptions = {}): Tensor {
    if (this.byName.has(name)) throw new Error(`parameter ${name} already exists`);
    const dtype = options.dtype ?? "f32";
    const t = this.slab.push(shape, dtype);
    t.name = name;
    t.requiresGrad = dtype === "f32";
    this.byName.set(name, t);
    this.decays.set(t, options.decay ?? shape.length >= 2);
    this.write(t, shape, values);
    return t;
  }

  get(name: string): Tensor {
    const t = this.byName.get(name);
    if (!t) throw new Error(`no parameter named ${name}`);
    return t;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }

  get tensors(): Tensor[] {
    return [...this.byName.values()];
  }

  /** Total number of scalar parameters. */
  get count(): number {
    return this.tensors.reduce((n, t) => n + t.size, 0);
  }

  /** Replaces a parameter's values (e.g. from a checkpoint), checking the shape. */
  load(name: string, shape: readonly number[], values: ArrayLike<number>): void {
    this.write(this.get(name), shape, values);
  }

  private write(t: Tensor, shape: readonly number[], values: ArrayLike<number>): void {
    if (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i])) {
      throw new Error(
        `parameter ${t.name}: values have shape ${shapeString(shape)}, model has ${shapeString(t.shape)}`,
      );
    }
    if (values.length !== t.size) {
      throw new Error(`parameter ${t.name}: ${values.length} values for shape ${shapeString(t.shape)}`);
    }
    const typed = t.dtype === "f32" ? Float32Array.from(values) : Int32Array.from(values);
    if (typed.length) this.gpu.write(t.buffer, typed, t.offset);
  }

  /** Frees the slab's spare room once every parameter exists (see Slab.fit). */
  fit(): void {
    this.slab.fit();
  }

  /** A zero-filled slab with this store's layout, and its views in parameter order. */
  mirror(): { slab: Slab; views: Tensor[] } {
    const slab = new Slab(this.gpu, Math.max(this.slab.used, 256));
    const views = this.tensors.map((t) => {
      const v = slab.push(t.shape, t.dtype);
      v.name = t.name;
      return v;
    });
    return { slab, views };
  }

  /** One bit per flat f32 slot: 1 where weight decay applies (padding slots are 0). */
  decayMask(): Uint32Array {
    const bits = new Uint32Array(Math.ceil(this.slab.length / 32));
    for (const [t, decay] of this.decays) {
      if (!decay) continue;
      const start = t.offset / 4;
      for (let i = start; i < start + t.size; i++) bits[i >>> 5] |= 1 << (i & 31);
    }
    return bits;
  }

  dispose(): void {
    for (const t of this.byName.values()) t.dispose();
    this.byName.clear();
    this.slab.destroy();
  }
}
