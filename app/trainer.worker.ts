// The trainer worker: owns the GPUDevice, the model, the optimiser and the training loop, so the
// page never blocks. The page drives it through Comlink (start, pause, resume, stop, save,
// resumeFrom) and hears about every step through a callback (a Comlink.proxy). Checkpoints go
// straight from here into IndexedDB (the catalogue), so their bytes never cross to the page.
//
// Data: the built-in scenes are rendered here, in this worker, for now: a scene at the small
// presets' render sizes takes well under a millisecond, next to a training step's tens or
// hundreds. WebDataset shards (decoding with createImageBitmap) will come from a data worker
// over a MessagePort, as DESIGN.md plans.
import * as Comlink from "comlink";
import { ScenesSource, type SourcePosition } from "../src/data/examples";
import { describeScene } from "../src/data/scenes";
import { Vocabulary } from "../src/data/vocab";
import { DeviceLostError } from "../src/gpu/errors";
import { Gpu } from "../src/gpu/gpu";
import { preset, type TipsConfig } from "../src/tips/config";
import type { LossWeights } from "../src/tips/loss";
import { CheckpointCatalogue, type CheckpointEntry, type MetricHistory } from "../src/train/catalogue";
import { CheckpointError, restoreTrainer, saveCheckpoint } from "../src/train/checkpoint";
import { type StepMetrics, Trainer, trainerOptions } from "../src/train/trainer";
import {
  LOSS_TERMS,
  type OnTrainEvent,
  type RunInfo,
  type RunStatus,
  type StepReport,
  type TrainEvent,
  type TrainSettings,
  type WorkerError,
  type WorkerInfo,
} from "./train-api";

/** Scenes are rendered 1.5x the model's input so that random-resized crops have pixels to spare (as src/cli/data.ts). */
function scenesRenderSize(config: TipsConfig): number {
  return Math.round((config.vision.imageSize * 1.5) / 8) * 8;
}

const vocabularies = new Map<number, Vocabulary>();

/** The scenes vocabulary as the CLI builds it: the most frequent words of 5000 samples' captions. */
function scenesVocabulary(size: number, samples = 5000): Vocabulary {
  let v = vocabularies.get(size);
  if (!v) {
    const captions: string[] = [];
    for (let i = 0; i < samples; i++) {
      const d = describeScene(i, { split: "train" });
      captions.push(d.webCaption, d.syntheticCaption);
    }
    v = Vocabulary.build(captions, size);
    vocabularies.set(size, v);
  }
  return v;
}

function toWorkerError(err: unknown): WorkerError {
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: "Error", message: String(err) };
}

function settle<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const catalogue = new CheckpointCatalogue();
let gpu: Gpu | null = null;
let gpuLost = false;

async function ensureGpu(): Promise<Gpu> {
  if (gpu && !gpuLost) return gpu;
  const g = await Gpu.create();
  gpu = g;
  gpuLost = false;
  g.device.lost.then(() => {
    if (gpu === g) gpuLost = true;
  });
  return g;
}

const SERIES = ["step", "total", ...LOSS_TERMS, "lr", "gradNorm", "imagesPerSecond"] as const;

/** One training run: the trainer, its data, and the loop that can pause, stop and save. */
class Run {
  private readonly pending: Promise<StepMetrics>[] = [];
  private consumed: SourcePosition;
  private last: StepMetrics | null = null;
  private nanSkips = 0;
  private paused = false;
  private stopRequested = false;
  /** Saves waiting for the loop to stand still at a step boundary. */
  private holds = 0;
  private parkedAt: { promise: Promise<void>; resolve: () => void } | null = null;
  private wake: (() => void) | null = null;
  private finished = false;
  private loop: Promise<void> | null = null;
  private saving: Promise<unknown> = Promise.resolve();
  /**
   * Times and batch sizes of the last 21 reports since the (re)start: rates are taken over the
   * intervals between them, so the first step's wait (compiling kernels) is not counted.
   */
  private pace: { time: number; examples: number }[] = [];
  private history: MetricHistory;
  status: RunStatus = "running";

  constructor(
    readonly trainer: Trainer,
    readonly vocab: Vocabulary,
    readonly source: ScenesSource,
    readonly settings: TrainSettings,
    private checkpoint: CheckpointEntry | null,
    history: MetricHistory | null,
    private readonly onEvent: OnTrainEvent,
  ) {
    this.consumed = source.position();
    // A series the saved history lacks (a term added since) starts as gaps up to the saved steps.
    const saved = history?.step?.length ?? 0;
    this.history = Object.fromEntries(
      SERIES.map((k) => [k, [...(history?.[k] ?? new Array<number | null>(saved).fill(null))]]),
    );
  }

  info(history: MetricHistory | null): RunInfo {
    return {
      settings: this.settings,
      step: this.trainer.step,
      parameters: this.trainer.model.params.count,
      checkpoint: this.checkpoint,
      history,
    };
  }

  get active(): boolean {
    return this.loop !== null && !this.finished;
  }

  private emit(event: TrainEvent): void {
    // Fire and forget: the page answering late must not slow the loop (nor a closed page stop it).
    Promise.resolve(this.onEvent(event)).catch(() => {});
  }

  private setStatus(status: RunStatus): void {
    this.status = status;
    this.emit({ type: "status", status, step: this.trainer.step });
  }

  begin(): void {
    this.resetPace();
    this.setStatus("running");
    this.loop = this.run();
  }

  /** After a start, a resume or a save the next step's time includes waiting: start the rates afresh. */
  private resetPace(): void {
    this.pace = [];
  }

  private async run(): Promise<void> {
    const { trainer, source } = this;
    const o = trainer.options;
    try {
      while (trainer.step < o.steps && !this.stopRequested) {
        if (this.paused || this.holds > 0) {
          await this.drain();
          await this.park();
          continue;
        }
        // Keep at most 2 steps in flight: wait for the oldest before recording another.
        if (this.pending.length >= 2) this.report(await this.pending.shift()!);
        const examples = await source.next(o.batch);
        if (examples.length < o.batch) throw new Error(`the data ran out after ${trainer.step} steps`);
        this.consumed = source.position();
        const step = trainer.trainStep(examples);
        step.catch(() => {}); // reported where it is awaited; never an unhandled rejection
        this.pending.push(step);
        const every = this.settings.saveEvery;
        if (every > 0 && trainer.step % every === 0 && trainer.step < o.steps) {
          await this.drain();
          await this.autosave();
          this.resetPace();
        }
      }
      await this.drain();
      if (!this.stopRequested) await this.autosave();
      this.finished = true;
      this.setStatus(this.stopRequested ? "stopped" : "done");
    } catch (err) {
      this.finished = true;
      await this.fail(err);
    } finally {
      this.finished = true;
      this.parkedAt?.resolve();
    }
  }

  /** Saves under the run's checkpoint name; a failed save (storage full) is reported and the run goes on. */
  private async autosave(): Promise<void> {
    try {
      await this.saveNow(this.settings.name, true);
    } catch (err) {
      if (gpuLost || err instanceof DeviceLostError) throw err;
      this.emit({
        type: "error",
        error: toWorkerError(err),
        fatal: false,
        deviceLost: false,
        checkpoint: this.checkpoint,
      });
    }
  }

  private async fail(err: unknown): Promise<void> {
    for (const p of this.pending.splice(0)) p.catch(() => {});
    // A loss shows up as a failed dispatch or read first; give the lost promise a moment to settle.
    if (!gpuLost && gpu && !(err instanceof DeviceLostError))
      await Promise.race([gpu.device.lost, new Promise((r) => setTimeout(r, 200))]);
    const deviceLost = gpuLost || err instanceof DeviceLostError;
    // A loss seen first as a failed read keeps that read's message, under the loss's name.
    const error = deviceLost ? { ...toWorkerError(err), name: "DeviceLostError" } : toWorkerError(err);
    this.status = "failed";
    this.emit({ type: "error", error, fatal: true, deviceLost, checkpoint: this.checkpoint });
    this.emit({ type: "status", status: "failed", step: this.trainer.step });
  }

  /** Awaits and reports the steps in flight. */
  private async drain(): Promise<void> {
    while (this.pending.length) this.report(await this.pending.shift()!);
  }

  private async park(): Promise<void> {
    const parked = settle<void>();
    this.parkedAt = parked;
    if (this.paused && this.status !== "paused") this.setStatus("paused");
    const woken = settle<void>();
    this.wake = woken.resolve;
    parked.resolve();
    await woken.promise;
    this.wake = null;
    this.parkedAt = null;
    this.resetPace();
  }

  /** Resolves when the loop stands still at a step boundary (parked or finished). */
  private async stillness(): Promise<void> {
    while (this.active && !this.parkedAt) await new Promise((r) => setTimeout(r, 20));
    if (this.parkedAt) await this.parkedAt.promise;
  }

  private report(m: StepMetrics): void {
    this.last = m;
    if (m.skipped) this.nanSkips++;
    const now = performance.now();
    this.pace.push({ time: now, examples: m.examples });
    if (this.pace.length > 21) this.pace.shift();
    // Over the last 20 steps: images per second and seconds per step.
    const first = this.pace[0];
    const span = (now - first.time) / 1000;
    const stepsIn = this.pace.length - 1;
    const examplesIn = this.pace.slice(1).reduce((n, p) => n + p.examples, 0);
    const ips = stepsIn > 0 && span > 0 ? examplesIn / span : null;
    const steps = this.trainer.options.steps;
    const report: StepReport = {
      metrics: m,
      steps,
      imagesPerSecond: ips,
      etaSeconds: stepsIn > 0 && span > 0 ? ((steps - m.step - 1) * span) / stepsIn : null,
      skippedSamples: { ...this.source.skipped },
      nanSkips: this.nanSkips,
    };
    const h = this.history;
    h.step.push(m.step + 1);
    h.total.push(m.loss.total);
    for (const t of LOSS_TERMS) h[t].push(m.loss[t]);
    h.lr.push(m.lr);
    h.gradNorm.push(Number.isFinite(m.gradNorm) ? m.gradNorm : null);
    h.imagesPerSecond.push(ips);
    this.emit({ type: "step", report });
  }

  pause(): Promise<void> {
    if (!this.active) return Promise.resolve();
    if (!this.paused) {
      this.paused = true;
      // Already standing still (for a save): paused at once.
      this.setStatus(this.parkedAt ? "paused" : "pausing");
    }
    return this.stillness();
  }

  resume(): void {
    if (!this.active || !this.paused) return;
    this.paused = false;
    this.setStatus("running");
    // A save in progress keeps the loop standing; it wakes the loop when it is done.
    if (this.holds === 0) this.wake?.();
  }

  async stop(): Promise<void> {
    if (!this.active) return;
    this.stopRequested = true;
    this.setStatus("stopping");
    this.wake?.();
    await this.loop;
  }

  /** Saves at a step boundary: a running loop stands still for the save and goes on after it. */
  save(name: string): Promise<CheckpointEntry> {
    const next = this.saving.then(async () => {
      if (!this.active) return this.saveNow(name, false);
      this.holds++;
      try {
        await this.stillness();
        return await this.saveNow(name, false);
      } finally {
        this.holds--;
        if (this.holds === 0 && !this.paused) this.wake?.();
      }
    });
    this.saving = next.catch(() => {});
    return next;
  }

  /** Writes the checkpoint; the trainer must be at a step boundary with nothing in flight. */
  private async saveNow(name: string, auto: boolean): Promise<CheckpointEntry> {
    if (this.status === "failed" && gpuLost)
      throw new DeviceLostError("lost", "the GPU was lost, so this run's state is gone");
    // The page may have renamed or deleted this run's entry since the last save.
    if (this.checkpoint) this.checkpoint = (await catalogue.entry(this.checkpoint.id)) ?? null;
    const trimmed =
      (auto ? this.checkpoint?.name : undefined) ?? (name.trim() || `${this.settings.preset} run`);
    const bytes = await saveCheckpoint(this.trainer, this.consumed, this.vocab, {
      data: "scenes",
      loss: this.last?.loss ?? null,
      name: trimmed,
    });
    // The same run saved under the same name is a new version of the same entry.
    const id = this.checkpoint && this.checkpoint.name === trimmed ? this.checkpoint.id : undefined;
    const entry = await catalogue.save(
      bytes,
      {
        id,
        name: trimmed,
        preset: this.trainer.options.config.name,
        step: this.trainer.step,
        steps: this.trainer.options.steps,
        losses: this.last?.loss ?? null,
      },
      this.history,
    );
    this.checkpoint = entry;
    this.emit({ type: "saved", entry, auto });
    return entry;
  }

  dispose(): void {
    try {
      this.trainer.dispose();
    } catch {
      // A lost device's buffers are gone already.
    }
  }
}

let run: Run | null = null;

async function replaceRun(): Promise<void> {
  if (run?.active) throw new Error("a run is in progress: stop it before starting another");
  run?.dispose();
  run = null;
}

function settingsOf(trainer: Trainer, name: string, saveEvery: number): TrainSettings {
  const o = trainer.options;
  const w = o.weights;
  return {
    preset: o.config.name,
    batch: o.batch,
    steps: o.steps,
    lr: o.schedule.lr,
    seed: o.seed,
    terms: Object.fromEntries(LOSS_TERMS.map((t) => [t, w[t] > 0])) as TrainSettings["terms"],
    teacher: o.teacher,
    saveEvery,
    name,
  };
}

const api = {
  /** Acquires the GPU (throws NoWebGPUError without WebGPU) and describes it. */
  async info(): Promise<WorkerInfo> {
    const g = await ensureGpu();
    catalogue.sweep().catch(() => {});
    return { device: g.info };
  },

  /** Starts a new run; resolves once it is built and running (progress comes through onEvent). */
  async start(settings: TrainSettings, onEvent: OnTrainEvent): Promise<RunInfo> {
    await replaceRun();
    const g = await ensureGpu();
    const config = preset(settings.preset);
    const weights = Object.fromEntries(
      LOSS_TERMS.map((t) => [t, settings.terms[t] ? 1 : 0]),
    ) as unknown as LossWeights;
    const vocab = scenesVocabulary(config.text.vocabSize);
    const options = trainerOptions(config, {
      steps: settings.steps,
      batch: settings.batch,
      lr: settings.lr,
      seed: settings.seed,
      weights,
      teacher: settings.teacher,
    });
    const trainer = new Trainer(g, options, vocab);
    const source = new ScenesSource({ size: scenesRenderSize(config), seed: 0 });
    run = new Run(trainer, vocab, source, settings, null, null, onEvent);
    run.begin();
    return run.info(null);
  },

  pause(): Promise<void> {
    return run?.pause() ?? Promise.resolve();
  },

  resume(): void {
    run?.resume();
  },

  async stop(): Promise<void> {
    await run?.stop();
  },

  /** Saves the current run (pausing it for the moment it takes) and returns its catalogue entry. */
  save(name: string): Promise<CheckpointEntry> {
    if (!run) throw new Error("there is no run to save: start one or resume a checkpoint first");
    return run.save(name);
  },

  /** Continues a catalogued checkpoint's run from its step, with its options and data position. */
  async resumeFrom(id: string, onEvent: OnTrainEvent, saveEvery = 0): Promise<RunInfo> {
    await replaceRun();
    const { entry, bytes, history } = await catalogue.get(id);
    const g = await ensureGpu();
    const restored = restoreTrainer(g, bytes, (json) => Vocabulary.fromJSON(json));
    const { trainer, tokenizer, source } = restored;
    if (source && source.kind !== "scenes") {
      trainer.dispose();
      throw new CheckpointError(
        "this checkpoint was trained on WebDataset shards; the browser trains on the built-in scenes only " +
          "for now: resume it with `tips train --resume` in Node",
      );
    }
    const scenes = new ScenesSource({
      size: scenesRenderSize(trainer.options.config),
      seed: 0,
      position: source ?? undefined,
    });
    const settings = settingsOf(trainer, entry.name, saveEvery);
    run = new Run(trainer, tokenizer, scenes, settings, entry, history, onEvent);
    const info = run.info(history);
    if (trainer.step >= trainer.options.steps) {
      // Nothing left to do: keep it loaded (it can still be saved) and say so.
      run.status = "done";
      Promise.resolve(onEvent({ type: "status", status: "done", step: trainer.step })).catch(() => {});
    } else run.begin();
    return info;
  },

  /** Validates a checkpoint file and adds it to the catalogue (nothing is saved if it is invalid). */
  importCheckpoint(bytes: Uint8Array, name: string): Promise<CheckpointEntry> {
    return catalogue.import(bytes, name);
  },
};

// Test hook for the e2e tests (through Playwright's worker.evaluate): loses the GPU device as a
// driver reset or a watchdog would.
Object.assign(self, { tipsTestHooks: { loseDevice: () => gpu?.loseDevice() } });

export type TrainerApi = typeof api;

Comlink.expose(api);
