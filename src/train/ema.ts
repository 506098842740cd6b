// EMA of parameters: teacher <- momentum * teacher + (1 - momentum) * student, one dispatch over
// a range of the slab. A full EMA teacher mirrors every parameter; a head-only one (TIPSv2)
// passes the range of the head parameters.
import code from "../../kernels/ema.wgsl?raw";
import { f32, grid1d, kernel } from "../gpu/kernel";
import type { ParameterStore } from "../tensor/params";
import type { Slab, Tensor } from "../tensor/tensor";

const emaKernel = kernel("ema", code);

export class EmaTeacher {
  readonly slab: Slab;
  /** Teacher tensors, one per student parameter, same names and shapes. */
  readonly views: Tensor[];

  constructor(readonly student: ParameterStore) {
    const { slab, views } = student.mirror();
    this.slab = slab;
    this.views = views;
    views.forEach((v, i) => {
      v.assign(student.tensors[i]);
    });
  }

  get(name: string): Tensor {
    const t = this.views.find((v) => v.name === name);
    if (!t) throw new Error(`EMA teacher has no parameter named ${name}`);
    return t;
  }

  /**
   * Updates the teacher with one dispatch over the slab range from the first to the last of
   * `only` (default: every parameter); a head-only EMA passes the heads, created consecutively.
   */
  update(momentum: number, only?: Tensor[]): void {
    const list = only ?? this.student.tensors;
    const start = Math.min(...list.map((t) => t.offset / 4));
    const end = Math.max(...list.map((t) => t.offset / 4 + t.size));
    const n = end - start;
    const student = this.student.slab.flat();
    const teacher = this.slab.flat();
    this.student.gpu.dispatch({
      kernel: emaKernel,
      params: [start, n, f32(momentum)],
      buffers: [teacher.binding, student.binding],
      workgroups: grid1d(n, 256),
    });
    student.dispose();
    teacher.dispose();
  }

  dispose(): void {
    for (const v of this.views) v.dispose();
    this.slab.destroy();
  }
}
