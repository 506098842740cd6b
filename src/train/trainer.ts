// The TIPS training step: crops -> student and teacher forward -> combined loss -> backward
// (accumulated over micro-batches) -> clip + AdamW (skipped on the GPU if a gradient is not
// finite) -> logit scale clamped at 100 -> EMA teacher -> teacher centres (when centring by
// running mean). One submission per step; the metrics come back asynchronously, so the caller
// can keep a step or two in flight.
import type { Example } from "../data/examples";
import { MissingFeatureError } from "../gpu/errors";
import type { Gpu } from "../gpu/gpu";
import { valueAndGrad } from "../ops/autograd";
import { concat } from "../ops/concat";
import { add, scale } from "../ops/elementwise";
import { full } from "../ops/elementwise_kernels";
import { Rng } from "../tensor/rng";
import { keep, tidy } from "../tensor/scope";
import type { Tensor } from "../tensor/tensor";
import { type TipsConfig, validateConfig } from "../tips/config";
import {
  type Centring,
  DEFAULT_LOSS,
  type LossTerms,
  type LossWeights,
  type RilsOptions,
  type SparcOptions,
  tipsLoss,
  updateCentre,
} from "../tips/loss";
import { type TeacherKind, TipsModel } from "../tips/model";
import { AdamW } from "./adamw";
import { checkTrainingFits } from "./fits";
import {
  defaultSchedule,
  learningRate,
  type ScheduleOptions,
  teacherMomentum,
  teacherTemperature,
} from "./schedule";
import {
  DEFAULT_VIEWS,
  makeBatch,
  planViews,
  sampleCaptions,
  type Tokenizer,
  type ViewOptions,
} from "./views";

/**
 * How the two captions of an image train the CLS tokens (Table 1 of TIPS): "dual", web captions
 * train CLS#1 and synthetic ones CLS#2 (each as its weight says); "sample", the web term trains
 * CLS#1 on one caption drawn per image and step (the syn weight must be 0); "multi", both
 * captions are positives of CLS#1 (the syn term reads CLS#1).
 */
export type CaptionRecipe = "dual" | "sample" | "multi";
export const CAPTION_RECIPES: readonly CaptionRecipe[] = ["dual", "sample", "multi"];

export interface TrainerOptions {
  config: TipsConfig;
  seed: number;
  /** Examples per optimiser step. */
  batch: number;
  /** Micro-batches per step (gradient accumulation); batch must be a multiple. */
  accumulate: number;
  steps: number;
  weights: LossWeights;
  /** Teacher targets for DINO and iBOT: Sinkhorn-Knopp (DINOv2, the default) or a running centre. */
  centring: Centring;
  /** Options of the optional fine-grained terms (used when their weight is above 0). */
  sparc: SparcOptions;
  rils: RilsOptions;
  captions: CaptionRecipe;
  teacher: TeacherKind;
  views: ViewOptions;
  schedule: ScheduleOptions;
  weightDecay: number;
  /** Clip the global gradient norm to this (0: off). */
  maxGradNorm: number;
}

export function trainerOptions(
  config: TipsConfig,
  o: Partial<Omit<TrainerOptions, "config">> & { lr?: number } = {},
): TrainerOptions {
  const steps = o.steps ?? 1000;
  return {
    config,
    seed: o.seed ?? 0,
    batch: o.batch ?? 32,
    accumulate: o.accumulate ?? 1,
    steps,
    weights: o.weights ?? { ...DEFAULT_LOSS.weights },
    centring: o.centring ?? DEFAULT_LOSS.centring,
    sparc: o.sparc ?? { ...DEFAULT_LOSS.sparc },
    rils: o.rils ?? { ...DEFAULT_LOSS.rils },
    captions: o.captions ?? "dual",
    teacher: o.teacher ?? "full",
    views: o.views ?? { ...DEFAULT_VIEWS },
    schedule: o.schedule ?? defaultSchedule(steps, o.lr ?? 1e-3),
    weightDecay: o.weightDecay ?? 0.05,
    maxGradNorm: o.maxGradNorm ?? 3,
  };
}

export interface LossValues {
  total: number;
  web: number | null;
  syn: number | null;
  dino: number | null;
  mim: number | null;
  sparc: number | null;
  rils: number | null;
}

export interface StepMetrics {
  /** The step's number, from 0. */
  step: number;
  loss: LossValues;
  lr: number;
  momentum: number;
  teacherTemp: number;
  /** Global gradient norm before clipping; not finite when the step was skipped. */
  gradNorm: number;
  /** The update was skipped because a gradient was NaN or infinite. */
  skipped: boolean;
  examples: number;
}

/** The loss terms, in the order of LossWeights; each is reported when its weight is above 0. */
export const TERMS = ["web", "syn", "dino", "mim", "sparc", "rils"] as const;

function validateFineOptions(sparc: SparcOptions, rils: RilsOptions): void {
  for (const [name, caption] of [
    ["sparc", sparc.caption],
    ["rils", rils.caption],
  ] as const) {
    if (caption !== "syn" && caption !== "web")
      throw new Error(`${name} caption must be "syn" or "web", got "${caption}"`);
  }
  for (const [name, tau] of [
    ["sparc temperature", sparc.temperature],
    ["rils student temperature", rils.tauStudent],
    ["rils teacher temperature", rils.tauTeacher],
  ] as const) {
    if (!(Number.isFinite(tau) && tau > 0)) throw new Error(`${name} must be a positive number, got ${tau}`);
  }
}

export class Trainer {
  readonly model: TipsModel;
  readonly optimizer: AdamW;
  /** Draws the crops and masks; its state is part of a checkpoint. */
  readonly rng: Rng;
  /** Steps taken so far. */
  step = 0;

  constructor(
    readonly gpu: Gpu,
    readonly options: TrainerOptions,
    readonly tokenizer: Tokenizer,
  ) {
    const o = options;
    if (!Number.isInteger(o.batch) || o.batch < 1)
      throw new Error(`batch must be a positive integer, got ${o.batch}`);
    if (!Number.isInteger(o.accumulate) || o.accumulate < 1 || o.batch % o.accumulate !== 0)
      throw new Error(`batch ${o.batch} is not a multiple of ${o.accumulate} micro-batches`);
    if (o.batch / o.accumulate < 2 && (o.weights.web > 0 || o.weights.syn > 0 || o.weights.rils > 0))
      throw new Error("contrastive terms and RILS need at least 2 examples per micro-batch");
    validateFineOptions(o.sparc, o.rils);
    if (!CAPTION_RECIPES.includes(o.captions))
      throw new Error(`captions must be one of ${CAPTION_RECIPES.join(", ")}, got "${o.captions}"`);
    if (o.captions === "sample" && (o.weights.web <= 0 || o.weights.syn > 0))
      throw new Error(
        'the "sample" caption recipe trains CLS#1 through the web term on a caption drawn per image: set the web weight above 0 and the syn weight to 0',
      );
    const p = o.views.maskProbability;
    if (!(p > 0 && p <= 1)) throw new Error(`mask probability must be above 0 and at most 1, got ${p}`);
    if (TERMS.every((t) => o.weights[t] <= 0))
      throw new Error("every loss weight is 0: switch at least one term on");
    validateConfig(o.config); // before its sizes are trusted
    const tooBig = checkTrainingFits(o.config, o.batch, o.accumulate, gpu.info.limits);
    if (tooBig) throw new MissingFeatureError(tooBig);
    this.model = new TipsModel(gpu, o.config, { seed: o.seed, teacher: o.teacher });
    this.optimizer = new AdamW(this.model.params, { weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm });
    this.rng = new Rng(o.seed).fork(); // not the model initialiser's stream
  }

  /**
   * Records one optimisation step on `examples` (options.batch of them) and submits it. The
   * returned promise gives the step's metrics once the GPU has run it; do not await it before
   * recording the next step unless you want the pipeline to drain.
   */
  trainStep(examples: Example[]): Promise<StepMetrics> {
    const o = this.options;
    if (examples.length !== o.batch)
      throw new Error(`trainStep: ${examples.length} examples for a batch of ${o.batch}`);
    const step = this.step;
    const lr = learningRate(o.schedule, step);
    const momentum = teacherMomentum(o.schedule, step);
    const teacherTemp = teacherTemperature(o.schedule, step);
    const lossOptions = {
      ...DEFAULT_LOSS,
      weights: o.weights,
      centring: o.centring,
      tauTeacher: teacherTemp,
      sparc: o.sparc,
      rils: o.rils,
      synToken: o.captions === "multi" ? ("cls1" as const) : ("cls2" as const),
    };
    const micro = o.batch / o.accumulate;
    const present = TERMS.filter((t) => o.weights[t] > 0);

    // One pool step: this step is handed the buffers the last one got, so its bind groups are reused.
    const metrics = this.gpu.pool.step(() =>
      tidy(() => {
        let sums: Tensor[] | null = null;
        for (let a = 0; a < o.accumulate; a++) {
          // Each micro-batch's activations are released before the next one runs.
          const values = tidy(() => {
            const part = examples.slice(a * micro, (a + 1) * micro);
            const plan = planViews(part, o.config, this.rng, o.views);
            const batch = makeBatch(
              this.gpu,
              o.captions === "sample" ? sampleCaptions(part, this.rng) : part,
              plan,
              o.config,
              this.tokenizer,
            );
            let terms: LossTerms | null = null;
            // Every micro-batch's gradients are added in place to the grad slab, zeroed first.
            if (a === 0) this.optimizer.zeroGrads();
            valueAndGrad(
              () => {
                terms = tipsLoss(this.model, batch, lossOptions);
                return terms.total;
              },
              this.model.params.tensors,
              (v) => full(v, v.shape, 1 / o.accumulate),
              this.optimizer.grads,
              // Read below; everything else the loss made goes during the backward.
              () => {
                const t = terms as unknown as LossTerms;
                return [...present.map((name) => t[name] as Tensor), t.teacherCls, t.teacherPatches].filter(
                  (x): x is Tensor => x !== null,
                );
              },
            );
            const t = terms as unknown as LossTerms;
            if (o.centring === "centre") {
              if (t.teacherCls) updateCentre(this.model.dinoCentre, t.teacherCls);
              if (t.teacherPatches) updateCentre(this.model.ibotCentre, t.teacherPatches);
            }
            return [t.total, ...present.map((name) => (t[name] as Tensor).reshape([1]))];
          });
          sums = sums ? sums.map((s, i) => add(s, values[i])) : values;
        }
        this.optimizer.step(lr);
        this.model.clampLogitScale();
        this.model.teacher.ema.update(momentum);
        const mean = (sums as Tensor[]).map((s) => (o.accumulate === 1 ? s : scale(s, 1 / o.accumulate)));
        // The loss terms and the optimiser's squared gradient norm, in one buffer to read back.
        return keep(concat([...mean, this.optimizer.stats.reshape([4])], 0));
      }),
    );
    this.step++;
    this.gpu.flush();
    return metrics.read().then((v) => {
      metrics.dispose();
      const loss: LossValues = {
        total: v[0],
        web: null,
        syn: null,
        dino: null,
        mim: null,
        sparc: null,
        rils: null,
      };
      present.forEach((name, i) => {
        loss[name] = v[1 + i];
      });
      const gradNorm = Math.sqrt(v[1 + present.length]);
      return {
        step,
        loss,
        lr,
        momentum,
        teacherTemp,
        gradNorm,
        skipped: !Number.isFinite(gradNorm),
        examples: examples.length,
      };
    });
  }

  dispose(): void {
    this.optimizer.dispose();
    this.model.dispose();
  }
}
