// What the Train page and the trainer worker say to each other: the settings of a run, what it
// reports, and its events. Types and constants only, so that the page can import them without
// loading the worker's code (the engine) on its own thread.
import type { DataSpec } from "../../src/data/datasets";
import type { SkipCounts } from "../../src/data/skips";
import type { DeviceInfo } from "../../src/gpu/device";
import type { CheckpointEntry, MetricHistory } from "../../src/train/catalogue";
import type { SessionStatus } from "../../src/train/session";
import type { StepMetrics } from "../../src/train/trainer";

export const LOSS_TERMS = ["web", "syn", "dino", "mim", "sparc", "rils"] as const;
export type LossTerm = (typeof LOSS_TERMS)[number];

/** What the Train page's form sets for a new run. */
export interface TrainSettings {
  preset: string;
  batch: number;
  steps: number;
  lr: number;
  seed: number;
  /** Which loss terms are on (weight 1) or off (weight 0). */
  terms: Record<LossTerm, boolean>;
  teacher: "full" | "heads";
  /** Also save to the catalogue every this many steps (0: only on Save and at the end). */
  saveEvery: number;
  /** The name checkpoints of this run are saved under. */
  name: string;
  /** What it trains on: scenes, openmoji, shard URLs or picked shard files (read by the data worker). */
  data: DataSpec;
  /**
   * A catalogued checkpoint whose model (and preset and vocabulary) the run starts from, with a
   * fresh optimiser and schedule; null: a new model.
   */
  startFrom: string | null;
}

/** A run's status as its session (src/train/session.ts) reports it. */
export type RunStatus = Exclude<SessionStatus, "idle">;

/** A run as it starts (or resumes from a checkpoint). */
export interface RunInfo {
  settings: TrainSettings;
  /** Steps already taken (0 for a new run). */
  step: number;
  parameters: number;
  /** The checkpoint this run saves to (set by resumeFrom and by the first save). */
  checkpoint: CheckpointEntry | null;
  /** The curves saved with the checkpoint it resumed from. */
  history: MetricHistory | null;
  /** How the schedule was stretched, when a finished run was continued for more steps. */
  extended?: string;
}

export interface StepReport {
  metrics: StepMetrics;
  /** Steps of the run. */
  steps: number;
  /** Over the recent steps; null until two steps have reported since the (re)start. */
  imagesPerSecond: number | null;
  /** Seconds to the end at the recent pace (null until it can be estimated). */
  etaSeconds: number | null;
  /** Samples the data source dropped or changed, by reason. */
  skippedSamples: SkipCounts;
  /** Steps whose update was skipped because a gradient was NaN or infinite. */
  nanSkips: number;
}

/** Live dense probes: how often, and the text whose similarity heatmap they show. */
export interface ProbeSettings {
  /** Refresh every this many steps (0: off). */
  every: number;
  query: string;
}

/** One refresh of the live probes (app/train/live-probes.ts), from the trainer's own model. */
export interface ProbeReport {
  /** Steps taken when they were computed. */
  step: number;
  query: string;
  /** Patches per side. */
  grid: number;
  images: {
    name: string;
    /** The probe image, RGBA, side x side. */
    view: { side: number; data: Uint8ClampedArray };
    /** [grid * grid] RGBA: PCA of the patch features as RGB. */
    pca: Uint8ClampedArray;
    /** [grid * grid] cosine of each patch with the query's embedding. */
    heat: Float32Array;
  }[];
  /** The probe images' web and synthetic captions (image i's own caption is number i). */
  web: string[];
  syn: string[];
  /** [image][caption] cosine of CLS#1 with each web caption and of CLS#2 with each synthetic one. */
  cls1: number[][];
  cls2: number[][];
  /** Milliseconds the refresh took. */
  ms: number;
}

export interface WorkerError {
  name: string;
  message: string;
}

export type TrainEvent =
  | { type: "step"; report: StepReport }
  | { type: "status"; status: RunStatus; step: number }
  | { type: "saved"; entry: CheckpointEntry; auto: boolean }
  | { type: "probe"; report: ProbeReport }
  | {
      type: "error";
      error: WorkerError;
      /** The run stopped (false: a checkpoint could not be saved, and the run goes on). */
      fatal: boolean;
      deviceLost: boolean;
      /** The run's latest checkpoint, to resume from. */
      checkpoint: CheckpointEntry | null;
    };

export type OnTrainEvent = (event: TrainEvent) => void;

export interface WorkerInfo {
  device: DeviceInfo;
}
