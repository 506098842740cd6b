// A TIPS model for training: the student (image encoder, DINO and iBOT heads, text encoder, CLIP
// logit scale) in one parameter store, an EMA teacher in another, and the teacher centres.
// Student parameters are created in that order so that a full teacher (image encoder + heads) is
// a prefix of the student's layout and a head-only teacher (TIPSv2) is the heads' run.
import type { Gpu } from "../gpu/gpu";
import { relu, scale } from "../ops/elementwise";
import { ParameterStore } from "../tensor/params";
import { Rng } from "../tensor/rng";
import { keep } from "../tensor/scope";
import { noGrad } from "../tensor/tape";
import { Tensor } from "../tensor/tensor";
import { type TipsConfig, validateConfig } from "./config";
import { EmaTeacher } from "./ema";
import { ProjectionHead } from "./heads";
import { TextTower } from "./text";
import { VisionEncoder } from "./vision";

export type TeacherKind = "full" | "heads";

/** CLIP's bound on the logit scale: exp(logit_scale) stays within [1, 100]. */
export const MAX_LOG_LOGIT_SCALE = Math.log(100);

interface TeacherParts {
  params: ParameterStore;
  /** Null for a head-only teacher: the student's encoder runs without gradients instead. */
  vision: VisionEncoder | null;
  dinoHead: ProjectionHead;
  ibotHead: ProjectionHead;
  ema: EmaTeacher;
}

export class TipsModel {
  readonly params: ParameterStore;
  readonly vision: VisionEncoder;
  readonly dinoHead: ProjectionHead;
  readonly ibotHead: ProjectionHead;
  readonly text: TextTower;
  /** [1] log of the CLIP logit scale (exported as the official `temperature` = exp(-x)). */
  readonly logitScale: Tensor;
  readonly teacher: TeacherParts;
  /** [K] running centres of the teacher's CLS and patch logits. */
  readonly dinoCentre: Tensor;
  readonly ibotCentre: Tensor;

  constructor(
    readonly gpu: Gpu,
    readonly config: TipsConfig,
    options: { seed?: number; teacher?: TeacherKind } = {},
  ) {
    validateConfig(config);
    const rng = new Rng(options.seed ?? 0);
    const d = config.vision.width;
    this.params = new ParameterStore(gpu);
    this.vision = new VisionEncoder(gpu, this.params, config.vision, rng);
    this.dinoHead = new ProjectionHead(this.params, "dino_head", d, config.head, rng);
    this.ibotHead = new ProjectionHead(this.params, "ibot_head", d, config.head, rng);
    this.text = new TextTower(gpu, this.params, config.text, rng);
    this.logitScale = this.params.create("logit_scale", [1], [Math.log(1 / 0.07)], { decay: false });

    const teacherParams = new ParameterStore(gpu);
    const teacherRng = new Rng(0); // values are overwritten by the copy from the student
    const kind = options.teacher ?? "full";
    const vision = kind === "full" ? new VisionEncoder(gpu, teacherParams, config.vision, teacherRng) : null;
    const dinoHead = new ProjectionHead(teacherParams, "dino_head", d, config.head, teacherRng);
    const ibotHead = new ProjectionHead(teacherParams, "ibot_head", d, config.head, teacherRng);
    this.teacher = {
      params: teacherParams,
      vision,
      dinoHead,
      ibotHead,
      ema: new EmaTeacher(teacherParams, this.params),
    };
    this.params.fit();
    teacherParams.fit();
    const k = config.head.prototypes;
    this.dinoCentre = keep(Tensor.from(gpu, new Float32Array(k), [k]));
    this.ibotCentre = keep(Tensor.from(gpu, new Float32Array(k), [k]));
  }

  /** Clamps the log logit scale to [0, ln 100] after an update, as CLIP does. */
  clampLogitScale(): void {
    const top = MAX_LOG_LOGIT_SCALE;
    noGrad(() => {
      // clamp(s, 0, top) = relu(top - relu(top - s)), from the ops there are.
      this.logitScale.assign(relu(scale(relu(scale(this.logitScale, -1, top)), -1, top)));
    });
  }

  get teacherKind(): TeacherKind {
    return this.teacher.vision ? "full" : "heads";
  }

  dispose(): void {
    this.params.dispose();
    this.teacher.params.dispose();
    this.dinoCentre.dispose();
    this.ibotCentre.dispose();
  }
}
