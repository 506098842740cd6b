// Named parameters: the tensors an optimiser updates and a checkpoint stores, in a fixed order.
import type { Gpu } from "../gpu/gpu";
import { keep } from "./scope";
import { type DType, shapeString, Tensor } from "./tensor";

export class ParameterStore {
  private byName = new Map<string, Tensor>();

  constructor(readonly gpu: Gpu) {}

  /** Creates a parameter from initial values; names are unique (e.g. "blocks.0.attn.qkv.weight"). */
  create(name: string, shape: number[], values: ArrayLike<number>, dtype: DType = "f32"): Tensor {
    if (this.byName.has(name)) throw new Error(`parameter ${name} already exists`);
    const t = keep(Tensor.from(this.gpu, values, shape, dtype));
    t.name = name;
    t.requiresGrad = dtype === "f32";
    this.byName.set(name, t);
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
    const t = this.get(name);
    if (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i])) {
      throw new Error(
        `parameter ${name}: checkpoint has ${shapeString(shape)}, model has ${shapeString(t.shape)}`,
      );
    }
    const typed = t.dtype === "f32" ? Float32Array.from(values) : Int32Array.from(values);
    this.gpu.write(t.buffer, typed);
  }

  dispose(): void {
    for (const t of this.byName.values()) t.dispose();
    this.byName.clear();
  }
}
