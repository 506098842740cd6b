// What the Train page and the trainer worker say to each other: the settings of a run, what it
// reports, and its events. Types and constants only, so that the page can import them without
// loading the worker's code (the engine) on its own thread.
import type { SkipCounts } from "../src/data/skips";
import type { DeviceInfo } from "../src/gpu/device";
import type { CheckpointEntry, MetricHistory } from "../src/train/catalogue";
import type { StepMetrics } from "../src/train/trainer";

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
}

export type RunStatus = "running" | "pausing" | "paused" | "stopping" | "stopped" | "done" | "failed";

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

export interface WorkerError {
  name: string;
  message: string;
}

export type TrainEvent =
  | { type: "step"; report: StepReport }
  | { type: "status"; status: RunStatus; step: number }
  | { type: "saved"; entry: CheckpointEntry; auto: boolean }
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
