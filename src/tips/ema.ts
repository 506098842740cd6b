// EMA teacher: teacher <- momentum * teacher + (1 - momentum) * student, one dispatch. The
// teacher is its own ParameterStore whose parameters were created in the same order as a
// contiguous run of the student's (a full teacher: the image encoder and heads, created first;
// a head-only teacher as in TIPSv2: the heads), so both slabs share one relative layout.
import code from "../../kernels/ema.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import type { ParameterStore } from "../tensor/params";

const emaKernel = kernel({
  name: "ema",
  file: "ema.wgsl",
  code,
  params: { student_start: "u32", n: "u32", momentum: "f32" },
  bindings: ["teacher", "student"],
});

export class EmaTeacher {
  private studentStart: number;

  constructor(
    readonly teacher: ParameterStore,
    readonly student: ParameterStore,
  ) {
    const [first] = teacher.tensors;
    if (!first) throw new Error("EMA teacher has no parameters");
    this.studentStart = student.get(first.name).offset / 4;
    for (const t of teacher.tensors) {
      const s = student.has(t.name) ? student.get(t.name) : null;
      if (!s || s.offset / 4 - this.studentStart !== t.offset / 4 || s.size !== t.size) {
        throw new Error(
          `EMA teacher parameter ${t.name} does not line up with the student's: create the teacher's ` +
            "parameters in the same order as a contiguous run of the student's",
        );
      }
      t.assign(s);
    }
  }

  update(momentum: number): void {
    const n = this.teacher.slab.length;
    const teacher = this.teacher.slab.flat();
    const student = this.student.slab.flat();
    this.teacher.gpu.dispatch({
      kernel: emaKernel,
      params: { student_start: this.studentStart, n, momentum },
      buffers: { teacher: teacher.binding, student: student.binding },
      workgroups: grid1d(n),
    });
    teacher.dispose();
    student.dispose();
  }
}
