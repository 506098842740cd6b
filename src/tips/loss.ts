// The combined TIPS objective on one batch:
//   L = w_web * CLIP(CLS#1, web caption) + w_syn * CLIP(CLS#2, synthetic caption; CLS#1 if synToken says so)
//     + w_dino * DINO(student local-crop CLS vs teacher global-crop CLS)
//     + w_mim * iBOT(student masked-view patches vs teacher unmasked patches)
//     + w_sparc * SPARC(caption tokens vs their language-grouped patches; off by default)
//     + w_rils * RILS(masked patches predict the teacher's patch-to-sentence distributions; off)
// CLIP and SPARC read the student's unmasked global crop, iBOT and RILS its masked one. A weight
// of 0 switches a term off (its work is skipped). Each term is returned separately.

import { concat, slice } from "../ops/concat";
import { add, mul, scale } from "../ops/elementwise";
import { full } from "../ops/elementwise_kernels";
import { clipLoss } from "../ops/loss_clip";
import { softCrossEntropy } from "../ops/loss_distill";
import { rilsLoss, rilsTargets } from "../ops/loss_rils";
import { sparcLoss } from "../ops/loss_sparc";
import { matmul } from "../ops/matmul";
import { l2Normalize } from "../ops/normalize";
import { mean, sum } from "../ops/reduce";
import { sinkhornLogTargets } from "../ops/sinkhorn";
import { noGrad } from "../tensor/tape";
import type { Tensor } from "../tensor/tensor";
import type { TipsModel } from "./model";
import type { TextBatch, TextOutput } from "./text";
import { lazyOutput, type VisionOutput } from "./vision";

export interface LossWeights {
  web: number;
  syn: number;
  dino: number;
  mim: number;
  sparc: number;
  rils: number;
}

/**
 * How the teacher's outputs become targets: "sinkhorn" (DINOv2) spreads each batch evenly over
 * the prototypes with Sinkhorn-Knopp; "centre" (DINO, iBOT) subtracts a running mean of the
 * teacher's logits before its softmax.
 */
export type Centring = "sinkhorn" | "centre";

/** Which caption a fine-grained term reads: the synthetic one (dense, describes the layout) or web. */
export type CaptionKind = "syn" | "web";

export interface SparcOptions {
  caption: CaptionKind;
  /** Temperature of the per-sample token / grouped-embedding contrast (fixed, not learned). */
  temperature: number;
}

export interface RilsOptions {
  /** The captions whose embeddings are the prototypes. */
  caption: CaptionKind;
  /** Student (masked view) and teacher (unmasked view) temperatures over the sentences. */
  tauStudent: number;
  tauTeacher: number;
}

export const DEFAULT_SPARC: SparcOptions = { caption: "syn", temperature: 0.07 };
export const DEFAULT_RILS: RilsOptions = { caption: "syn", tauStudent: 0.1, tauTeacher: 0.05 };

export interface LossOptions {
  weights: LossWeights;
  centring: Centring;
  /** Student temperature (both heads). */
  tauStudent: number;
  /** Teacher temperature for the CLS head (DINO warms it from 0.04 to 0.07). */
  tauTeacher: number;
  tauTeacherPatch: number;
  sparc: SparcOptions;
  rils: RilsOptions;
  /**
   * The CLS token the synthetic captions' CLIP term contrasts with: CLS#2 (TIPS's dual embedding)
   * or CLS#1, beside the web captions (Table 1's "multi-text": both captions positives of one CLS).
   */
  synToken: "cls1" | "cls2";
}

export const DEFAULT_LOSS: LossOptions = {
  weights: { web: 1, syn: 1, dino: 1, mim: 1, sparc: 0, rils: 0 },
  centring: "sinkhorn",
  tauStudent: 0.1,
  tauTeacher: 0.04,
  tauTeacherPatch: 0.07,
  sparc: DEFAULT_SPARC,
  rils: DEFAULT_RILS,
  synToken: "cls2",
};

export interface TipsBatch {
  /** [B, 3, S, S] global crops (the teacher's view; the student sees them as they are and masked). */
  global: Tensor;
  /** [M*B, 3, s, s] local crops, crop-major (crop m of image b at row m*B + b). */
  local: Tensor;
  /** [B, N, 1] f32, 1 = patch masked in the student's global view. */
  masks: Tensor;
  /**
   * [B*N] f32 weight of each patch in the MIM loss: iBOT averages masked patches per image and
   * then images (mask / count_b / B); iBOT++ (TIPSv2) weights every patch 1 / (N*B).
   */
  mimWeights: Tensor;
  /** [B*N] f32: mask / count_b / B, the mean over each image's masked patches (RILS). */
  maskedWeights: Tensor;
  /** [2B, L]: the web captions, then the synthetic ones (captionsBatch). */
  captions: TextBatch;
}

export interface LossTerms {
  total: Tensor;
  web: Tensor | null;
  syn: Tensor | null;
  dino: Tensor | null;
  mim: Tensor | null;
  sparc: Tensor | null;
  rils: Tensor | null;
  /** Teacher logits, for the centre update after the step ("centre" centring only). */
  teacherCls: Tensor | null;
  teacherPatches: Tensor | null;
}

/**
 * Per-row cross-entropy of student logits against the teacher's targets (teacher rows repeat
 * every T student rows).
 */
function distill(
  student: Tensor,
  teacher: Tensor,
  centre: Tensor,
  tauStudent: number,
  tauTeacher: number,
  centring: Centring,
): Tensor {
  if (centring === "centre") {
    return softCrossEntropy(student, teacher, centre, { student: tauStudent, teacher: tauTeacher });
  }
  // log q read as logits with no centre and temperature 1: softmax(log q) = q.
  const logTargets = sinkhornLogTargets(teacher, tauTeacher);
  const zero = noGrad(() => scale(centre, 0));
  return softCrossEntropy(student, logTargets, zero, { student: tauStudent, teacher: 1 });
}

function contrastive(model: TipsModel, image: Tensor, text: Tensor): Tensor {
  return clipLoss(matmul(l2Normalize(image), l2Normalize(text), { transB: true }), model.logitScale);
}

/** The rows of one caption kind in a [2B, ...] tensor of the batch's captions. */
function captionRows(batch: TipsBatch, kind: CaptionKind, t: Tensor): Tensor {
  const b = batch.masks.shape[0];
  const start = kind === "web" ? 0 : b;
  return slice(t, 0, start, start + b);
}

/**
 * Text features of each caption kind read. Both kinds come from one pass over the 2B captions of
 * the batch (the text weights' gradients summed inside their matmuls); one kind alone, from its
 * half. Token features are split out only when read (SPARC).
 */
function encodeCaptions(
  model: TipsModel,
  batch: TipsBatch,
  kinds: CaptionKind[],
): Map<CaptionKind, TextOutput> {
  const out = new Map<CaptionKind, TextOutput>();
  const c = batch.captions;
  if (kinds.length === 1) {
    const rows = (t: Tensor) => captionRows(batch, kinds[0], t);
    const one = {
      ids: rows(c.ids),
      keyMask: rows(c.keyMask),
      tokenMask: rows(c.tokenMask),
      counts: rows(c.counts),
    };
    out.set(kinds[0], model.text.forwardTokens(one));
  }
  if (kinds.length !== 2) return out;
  const both = model.text.forwardTokens(c);
  for (const kind of kinds) {
    let tokens: Tensor | null = null;
    out.set(kind, {
      pooled: captionRows(batch, kind, both.pooled),
      get tokens() {
        tokens ??= captionRows(batch, kind, both.tokens);
        return tokens;
      },
    });
  }
  return out;
}

/**
 * The student on the global crops, as they are and/or masked. With both, the two views run as one
 * batch of 2B, unmasked first (the mask token replaces patches only in the second half): one
 * pass instead of two, the encoder weights' gradients summed inside its matmuls.
 */
function studentGlobal(
  model: TipsModel,
  batch: TipsBatch,
  unmasked: boolean,
  masked: boolean,
): { unmasked: VisionOutput | null; masked: VisionOutput | null } {
  if (!unmasked || !masked)
    return {
      unmasked: unmasked ? model.vision.forward(batch.global) : null,
      masked: masked ? model.vision.forward(batch.global, batch.masks) : null,
    };
  const b = batch.global.shape[0];
  const noMasks = full(batch.masks, batch.masks.shape, 0);
  const both = model.vision.forward(
    concat([batch.global, batch.global], 0),
    concat([noMasks, batch.masks], 0),
  );
  const half = (i: number): VisionOutput => {
    const cut = (t: Tensor) => slice(t, 0, i * b, (i + 1) * b);
    return lazyOutput({
      cls1: () => cut(both.cls1),
      cls2: () => cut(both.cls2),
      patches: () => cut(both.patches),
    });
  };
  return { unmasked: half(0), masked: half(1) };
}

export function tipsLoss(model: TipsModel, batch: TipsBatch, o: LossOptions = DEFAULT_LOSS): LossTerms {
  const w = o.weights;
  const [b, n] = batch.masks.shape;
  const d = model.config.vision.width;
  const k = model.config.head.prototypes;
  // The contrastive terms and SPARC read the unmasked global crop, as in the TIPS and TIPSv2
  // block diagrams; the masked view feeds only the masked-prediction terms (iBOT, RILS).
  const { unmasked, masked } = studentGlobal(
    model,
    batch,
    w.web > 0 || w.syn > 0 || w.sparc > 0,
    w.mim > 0 || w.rils > 0,
  );
  // The captions the terms read go through the text encoder together, in one pass.
  const read = new Set<CaptionKind>();
  if (w.web > 0) read.add("web");
  if (w.syn > 0) read.add("syn");
  if (w.sparc > 0) read.add(o.sparc.caption);
  if (w.rils > 0) read.add(o.rils.caption);
  const texts = encodeCaptions(model, batch, [...read]);
  const text = (kind: CaptionKind): TextOutput => texts.get(kind) as TextOutput;
  const web = unmasked && w.web > 0 ? contrastive(model, unmasked.cls1, text("web").pooled) : null;
  const syn = unmasked && w.syn > 0 ? contrastive(model, unmasked[o.synToken], text("syn").pooled) : null;

  let teacher: VisionOutput | null = null;
  if (w.dino > 0 || w.mim > 0 || w.rils > 0) {
    const teacherVision = model.teacher.vision;
    // A head-only teacher (TIPSv2) reads the student's encoder on the unmasked crop: the pass
    // above where there is one (the teacher's terms read it only inside noGrad).
    if (teacherVision) teacher = noGrad(() => teacherVision.forward(batch.global));
    else teacher = unmasked ?? noGrad(() => model.vision.forward(batch.global));
  }
  let dino: Tensor | null = null;
  let teacherCls: Tensor | null = null;
  if (w.dino > 0 && teacher) {
    // Read outside noGrad: a head-only teacher's fields are the student's, sliced when first
    // read, and noGrad keeps only what it returns.
    const cls = teacher.cls1;
    teacherCls = noGrad(() => model.teacher.dinoHead.forward(cls));
    const localCls = model.vision.forward(batch.local).cls1;
    const studentCls = model.dinoHead.forward(localCls);
    const ce = distill(studentCls, teacherCls, model.dinoCentre, o.tauStudent, o.tauTeacher, o.centring);
    dino = mean(ce);
  }
  let mim: Tensor | null = null;
  let teacherPatches: Tensor | null = null;
  if (w.mim > 0 && teacher && masked) {
    const patches = teacher.patches; // outside noGrad, as above
    teacherPatches = noGrad(() => model.teacher.ibotHead.forward(patches).reshape([b * n, k]));
    const studentPatches = model.ibotHead.forward(masked.patches).reshape([b * n, k]);
    const ce = distill(
      studentPatches,
      teacherPatches,
      model.ibotCentre,
      o.tauStudent,
      o.tauTeacherPatch,
      o.centring,
    );
    mim = sum(mul(ce, batch.mimWeights));
  }
  let sparc: Tensor | null = null;
  if (w.sparc > 0 && unmasked) {
    // The patch tokens of the unmasked view and the caption's token features: both already live
    // in the space CLIP aligns (no projections).
    const caption = o.sparc.caption;
    sparc = sparcLoss(
      text(caption).tokens,
      unmasked.patches,
      captionRows(batch, caption, batch.captions.tokenMask),
      o.sparc.temperature,
    );
  }
  let rils: Tensor | null = null;
  if (w.rils > 0 && teacher && masked) {
    const sentences = text(o.rils.caption).pooled;
    const targets = rilsTargets(teacher.patches.reshape([b * n, d]), sentences);
    rils = rilsLoss(masked.patches.reshape([b * n, d]), targets, sentences, batch.maskedWeights, {
      student: o.rils.tauStudent,
      teacher: o.rils.tauTeacher,
    });
  }
  const parts: [Tensor | null, number][] = [
    [web, w.web],
    [syn, w.syn],
    [dino, w.dino],
    [mim, w.mim],
    [sparc, w.sparc],
    [rils, w.rils],
  ];
  let total: Tensor | null = null;
  for (const [term, weight] of parts) {
    if (!term) continue;
    const weighted = weight === 1 ? term : scale(term, weight);
    total = total ? add(total, weighted) : weighted;
  }
  if (!total) throw new Error("tipsLoss: every loss weight is 0; switch at least one term on");
  return { total: total.reshape([1]), web, syn, dino, mim, sparc, rils, teacherCls, teacherPatches };
}

/** centre <- momentum * centre + (1 - momentum) * mean over rows of the teacher logits. */
export function updateCentre(centre: Tensor, teacherLogits: Tensor, momentum = 0.9): void {
  noGrad(() => {
    centre.assign(add(scale(centre, momentum), scale(mean(teacherLogits, 0), 1 - momentum)));
  });
}
