// Per-row teacher-student cross-entropy for DINO (CLS of local crops vs the teacher's global
// crop) and iBOT (patch tokens vs the teacher's patches): the caller weights and sums the rows
// (a mean for DINO; masked patches per image for iBOT), so one kernel serves both.
import blockReduceCode from "../../kernels/block_reduce.wgsl?raw";
import rowCode from "../../kernels/loss_distill.wgsl?raw";
import { f32, grid1d, kernel } from "../gpu/kernel";
import { record } from "../tensor/tape";
import { shapeString, Tensor } from "../tensor/tensor";
import { rowThreads } from "./rows";

const code = blockReduceCode + rowCode;

const forwardKernel = kernel("loss_distill.forward", code, "forward");
const backwardKernel = kernel("loss_distill.backward", code, "backward");

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
  const params = [rows, teacherRows, k, f32(1 / tau.student), f32(1 / tau.teacher)];
  const saved = Tensor.empty(gpu, [rows, 4]);
  const ce = Tensor.empty(gpu, [rows]);
  gpu.dispatch({
    kernel: forwardKernel,
    constants: { THREADS: rowThreads(k) },
    params,
    buffers: [student.binding, teacher.binding, centre.binding, saved.binding, ce.binding],
    workgroups: grid1d(rows, 1),
  });
  return record("softCrossEntropy", [student, teacher, centre], ce, (dce) => {
    const dStudent = Tensor.empty(gpu, student.shape);
    gpu.dispatch({
      kernel: backwardKernel,
      params,
      buffers: [
        student.binding,
        teacher.binding,
        centre.binding,
        saved.binding,
        dce.binding,
        dStudent.binding,
      ],
      workgroups: grid1d(rows * k, 256),
    });
    return [dStudent, null, null];
  });
}
