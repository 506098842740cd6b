// RILS (arXiv 2301.06958): masked image modelling in language space. The batch's sentence
// embeddings are the prototypes; each patch's distribution over them is a softmax of its
// cosines to the sentences. The student's patches (of the masked view) must predict the
// distribution the teacher's patches (of the unmasked view) give:
//   ce_i = -sum_s softmax(cos(t_i, e)/tau_t)_s log softmax(cos(p_i, e)/tau_s)_s,
//   L = sum_i w_i ce_i   (w: the caller's patch weights, e.g. mean over masked patches).
// What runs where: the cosines are one matmul per side of L2-normalised rows; the two softmaxes
// and the cross-entropy with its backward are the distillation kernel (kernels/loss_distill.wgsl,
// with a zero centre), which fuses exactly that over K = the number of sentences. The teacher
// side gets no gradient; the student side differentiates into its patches and the sentences.

import { noGrad } from "../tensor/tape";
import { shapeString, type Tensor } from "../tensor/tensor";
import { mul } from "./elementwise";
import { full } from "./elementwise_kernels";
import { softCrossEntropy } from "./loss_distill";
import { matmul } from "./matmul";
import { l2Normalize } from "./normalize";
import { sum } from "./reduce";

export interface RilsTemperatures {
  student: number;
  teacher: number;
}

function cosines(patches: Tensor, sentences: Tensor): Tensor {
  return matmul(l2Normalize(patches), l2Normalize(sentences), { transB: true });
}

function checkShapes(patches: Tensor, sentences: Tensor, what: string): void {
  if (
    patches.rank !== 2 ||
    sentences.rank !== 2 ||
    sentences.shape[1] !== patches.shape[1] ||
    sentences.shape[0] === 0
  )
    throw new Error(
      `${what}: patches [R, D] and sentences [S, D] (S > 0) expected, got ${shapeString(patches.shape)} and ${shapeString(sentences.shape)}`,
    );
}

/** The teacher's side, without gradient: cosines [R, S] of its patches [R, D] to the sentences [S, D]. */
export function rilsTargets(teacher: Tensor, sentences: Tensor): Tensor {
  checkShapes(teacher, sentences, "rilsTargets");
  return noGrad(() => cosines(teacher, sentences));
}

/**
 * student: [R, D] patch embeddings of the masked view (R = B * N); targets: [R, S] from
 * rilsTargets; sentences: [S, D]; weights: [R]. Returns the scalar loss.
 */
export function rilsLoss(
  student: Tensor,
  targets: Tensor,
  sentences: Tensor,
  weights: Tensor,
  tau: RilsTemperatures,
): Tensor {
  checkShapes(student, sentences, "rilsLoss");
  const rows = student.shape[0];
  const s = sentences.shape[0];
  if (targets.rank !== 2 || targets.shape[0] !== rows || targets.shape[1] !== s || weights.size !== rows)
    throw new Error(
      `rilsLoss: targets [${rows}, ${s}] and weights [${rows}] expected, got ${shapeString(targets.shape)} and ${shapeString(weights.shape)}`,
    );
  if (!(tau.student > 0 && tau.teacher > 0))
    throw new Error(`rilsLoss: temperatures must be positive, got ${tau.student} and ${tau.teacher}`);
  const ce = softCrossEntropy(cosines(student, sentences), targets, full(student, [s], 0), tau);
  return sum(mul(ce, weights.reshape([rows])));
}
