import type { OpCase } from "../check";
import { rilsLoss } from "../loss_rils";

/**
 * float64 RILS loss: student [R, D], targets [R, S] (teacher cosines), sentences [S, D],
 * weights [R]: sum_i w_i * -sum_s softmax(targets_i / tau_t)_s log softmax(cos(p_i, e) / tau_s)_s.
 */
export function refRilsLoss(
  student: Float64Array,
  targets: Float64Array,
  sentences: Float64Array,
  weights: Float64Array,
  d: number,
  tau: { student: number; teacher: number },
): number {
  const rows = weights.length;
  const s = sentences.length / d;
  const unit = (x: Float64Array, i: number) => {
    let n = 0;
    for (let k = 0; k < d; k++) n += x[i * d + k] ** 2;
    return Math.max(Math.sqrt(n), 1e-3);
  };
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const ni = unit(student, i);
    const logits = Array.from({ length: s }, (_, j) => {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += student[i * d + k] * sentences[j * d + k];
      return dot / ni / unit(sentences, j) / tau.student;
    });
    const t = Array.from({ length: s }, (_, j) => targets[i * s + j] / tau.teacher);
    const ms = Math.max(...logits);
    const lseS = ms + Math.log(logits.reduce((a, v) => a + Math.exp(v - ms), 0));
    const mt = Math.max(...t);
    const zt = t.reduce((a, v) => a + Math.exp(v - mt), 0);
    let ce = 0;
    for (let j = 0; j < s; j++) ce -= (Math.exp(t[j] - mt) / zt) * (logits[j] - lseS);
    total += weights[i] * ce;
  }
  return total;
}

const TAU = { student: 0.1, teacher: 0.05 };

export const rilsCases: OpCase[] = [
  [1, 1, 1],
  [7, 3, 2],
  [51, 16, 5],
  [96, 32, 33],
].map(
  ([rows, d, s]): OpCase => ({
    name: `rils loss ${rows} patches, D=${d}, ${s} sentences`,
    inputs: [
      { shape: [rows, d] },
      // Teacher cosines: any values in the check (the softmax does not need them in [-1, 1]).
      { shape: [rows, s], grad: false },
      { shape: [s, d] },
      { shape: [rows], values: "positive", grad: false },
    ],
    run: ([student, targets, sentences, weights]) => rilsLoss(student, targets, sentences, weights, TAU),
    reference: ([student, targets, sentences, weights]) =>
      Float64Array.of(refRilsLoss(student, targets, sentences, weights, d, TAU)),
    atol: 1e-4,
    rtol: 1e-3,
  }),
);
