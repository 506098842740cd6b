// Per-row teacher-student cross-entropy for DINO (CLS of local crops vs the teacher's global
// crop) and iBOT (patch tokens vs the teacher's patches): the caller weights and sums the rows
// (a mean for DINO; masked patches per image for iBOT), so one kernel serves both.
import code from "../../kernels/loss_distill.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { shapeString, Tensor } from "../tensor/tensor";
import { rowThreads } from "./rows";

const PARAMS = { rows: "u32", teacher_rows: "u32", k: "u32", inv_tau_s: "f32", inv_tau_t: "f32" } as const;
const forwardKernel = kernel({
  name: "loss_distill.forward",
  file: "loss_distill.wgsl",
  code,
  entryPoint: "forward",
  params: PARAMS,
  bindings: ["student", "teacher", "centre", "row_out", "ce_out"],
});
const backwardKernel = kernel({
  name: "loss_distill.backward",
  file: "loss_distill.wgsl",
  code,
  entryPoint: "backward",
  params: PARAMS,
  bindings: ["student_b", "teacher_b", "centre_b", "saved", "dce", "dstudent"],
});

export interface DistillTemperatures {
  student: number;
  teacher: number;
}

/**
 * student: [R, K] logits; teacher: [T, K] logits with R a multiple of T (student row r is
 * compared with teacher row r mod T); centre: [K]. Returns ce: [R]. Gradient flows to the
 * student only.
 */
export function softCrossEntropy(
  student: Tensor,
  teacher: Tensor,
  centre: Tensor,
  tau: DistillTemperatures,
): Tensor {
  const [rows, k] = student.shape;
  const teacherRows = teacher.shape[0];
  if (student.rank !== 2 || teacher.rank !== 2 || teacher.shape[1] !== k || centre.size !== k) {
    throw new Error(
      `softCrossEntropy: student [R, K], teacher [T, K] and centre [K] expected, got ` +
        `${shapeString(student.shape)}, ${shapeString(teacher.shape)}, ${shapeString(centre.shape)}`,
    );
  }
  if (teacherRows === 0 || rows % teacherRows !== 0) {
    throw new Error(
      `softCrossEntropy: ${rows} student rows are not a multiple of ${teacherRows} teacher rows`,
    );
  }
  const gpu = student.gpu;
  const params = {
    rows,
    teacher_rows: teacherRows,
    k,
    inv_tau_s: 1 / tau.student,
    inv_tau_t: 1 / tau.teacher,
  };
  const saved = Tensor.empty(gpu, [rows, 4]);
  const ce = Tensor.empty(gpu, [rows]);
  gpu.dispatch({
    kernel: forwardKernel,
    constants: { THREADS: rowThreads(k, gpu.kernelTarget) },
    params,
    buffers: {
      student: student.binding,
      teacher: teacher.binding,
      centre: centre.binding,
      row_out: saved.binding,
      ce_out: ce.binding,
    },
    workgroups: grid1d(rows, 1),
  });
  return record("softCrossEntropy", [student, teacher, centre], ce, (dce) => {
    const dStudent = Tensor.empty(gpu, student.shape);
    gpu.dispatch({
      kernel: backwardKernel,
      params,
      buffers: {
        student_b: student.binding,
        teacher_b: teacher.binding,
        centre_b: centre.binding,
        saved: saved.binding,
        dce: dce.binding,
        dstudent: dStudent.binding,
      },
      workgroups: grid1d(rows * k),
    });
    return [dStudent, null, null];
  });
}
