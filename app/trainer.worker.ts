// The trainer worker: owns the GPUDevice, the model, the optimiser and the training loop, so the
// page never blocks. The page drives it through Comlink (start, pause, resume, stop, save,
// resumeFrom) and hears about every step through a callback (a Comlink.proxy). Checkpoints go
// straight from here into IndexedDB (the catalogue), so their bytes never cross to the page.
//
// Data comes from the data worker (app/data.worker.ts) over a MessagePort that the page hands
// over once (connectData): it opens the run's source, builds a new run's vocabulary from the
// captions, and sends decoded batches a few steps ahead, each with the position after it.
import * as Comlink from "comlink";
import { type DataSpec, dataNotes, dataSpecFromNotes, renderSize } from "../src/data/datasets";
import type { Example, ExampleSource, SourcePosition } from "../src/data/examples";
import { FeedClient, type FeedPort, type RemoteSource } from "../src/data/feed";
import { describeSkips, emptySkipCounts, type SkipCounts } from "../src/data/skips";
import { Vocabulary } from "../src/data/vocab";
import { DeviceLostError, MissingFeatureError } from "../src/gpu/errors";
import { Gpu } from "../src/gpu/gpu";
import { SafetensorsError } from "../src/tensor/safetensors";
import { preset, type TipsConfig } from "../src/tips/config";
import type { LossWeights } from "../src/tips/loss";
import { CheckpointCatalogue, type CheckpointEntry, type MetricHistory } from "../src/train/catalogue";
import {
  CheckpointError,
  readCheckpoint,
  restoreTrainer,
  saveCheckpoint,
  startFromCheckpoint,
} from "../src/train/checkpoint";
import { checkTrainingFits } from "../src/train/fits";
import { extendedSchedule, learningRate } from "../src/train/schedule";
import { type StepMetrics, Trainer, trainerOptions } from "../src/train/trainer";
import { probeDue, runProbe, setProbe } from "./probe";
import {
  LOSS_TERMS,
  type OnTrainEvent,
  type ProbeReport,
  type ProbeSettings,
  type RunInfo,
  type RunStatus,
  type StepReport,
  type TrainEvent,
  type TrainSettings,
  type WorkerError,
  type WorkerInfo,
} from "./train-api";

/** Batches the data worker decodes ahead of the trainer. */
const PREFETCH = 3;

let feed: FeedClient | null = null;

/** Opens the run's data in the data worker; a new run gets its vocabulary from the captions. */
function openData(
  spec: DataSpec,
  config: TipsConfig,
  batch: number,
  seed: number,
  position: SourcePosition | null,
  vocabulary: boolean,
): Promise<{ source: RemoteSource; words: string[] | null }> {
  if (!feed) throw new Error("the data worker is not connected: reload the page");
  return feed.open({
    spec,
    batch,
    prefetch: PREFETCH,
    size: renderSize(config),
    seed,
    position,
    vocabularySize: vocabulary ? config.text.vocabSize : null,
  });
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
    readonly source: ExampleSource,
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

  /** The curves so far, saved steps included. */
  get curves(): MetricHistory {
    return this.history;
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
        if (examples.length < o.batch) {
          const skips = describeSkips(source.skipped);
          throw new Error(
            `the data ran out after ${trainer.step} steps${skips ? `; samples skipped: ${skips}` : ""}`,
          );
        }
        this.consumed = source.position();
        const step = trainer.trainStep(examples);
        step.catch(() => {}); // reported where it is awaited; never an unhandled rejection
        this.pending.push(step);
        if (probeDue(trainer.step)) {
          // The probes wait for the steps in flight anyway: report those first.
          await this.drain();
          await this.probe();
        }
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
      source.close().catch(() => {});
    }
  }

  /** The live probes on the current weights (queued after the steps in flight), sent to the page. */
  private async probe(): Promise<ProbeReport> {
    const report = await runProbe(this.trainer);
    this.emit({ type: "probe", report });
    return report;
  }

  /** Refreshes the probes now: a running loop stands still for it, as for a save. */
  probeNow(): Promise<ProbeReport> {
    const next = this.saving.then(async () => {
      if (!this.active) return this.probe();
      this.holds++;
      try {
        await this.stillness();
        return await this.probe();
      } finally {
        this.holds--;
        if (this.holds === 0 && !this.paused) this.wake?.();
      }
    });
    this.saving = next.catch(() => {});
    return next;
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
      ...dataNotes(this.settings.data),
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

type RunOverrides = Parameters<typeof trainerOptions>[1];

/** A new model of the settings' preset, with a vocabulary built from the data's first captions. */
async function newModel(
  g: Gpu,
  settings: TrainSettings,
  overrides: RunOverrides,
): Promise<{ trainer: Trainer; vocab: Vocabulary; source: RemoteSource }> {
  const config = preset(settings.preset);
  // Before the data worker renders or fetches a single batch.
  const tooBig = checkTrainingFits(config, settings.batch, 1, g.info.limits);
  if (tooBig) throw new MissingFeatureError(tooBig);
  const { source, words } = await openData(settings.data, config, settings.batch, settings.seed, null, true);
  const vocab = new Vocabulary(words!);
  try {
    return { trainer: new Trainer(g, trainerOptions(config, overrides), vocab), vocab, source };
  } catch (err) {
    await source.close();
    throw err;
  }
}

/** The model, preset and vocabulary of a catalogued checkpoint, with this run's options. */
async function startedFrom(
  g: Gpu,
  settings: TrainSettings,
  overrides: RunOverrides,
): Promise<{ trainer: Trainer; vocab: Vocabulary; source: RemoteSource }> {
  const { entry, bytes } = await catalogue.get(settings.startFrom!);
  let started: ReturnType<typeof startFromCheckpoint<Vocabulary>>;
  try {
    // The Trainer checks that the run fits the adapter (MissingFeatureError) before the data opens.
    started = startFromCheckpoint(g, bytes, (json) => Vocabulary.fromJSON(json), overrides);
  } catch (err) {
    // A file that is not a usable checkpoint is named; anything else (a lost device, a run too
    // big for the adapter) is reported as itself.
    if (!(err instanceof CheckpointError || err instanceof SafetensorsError)) throw err;
    throw new CheckpointError(`cannot start from “${entry.name}”: ${err.message}`);
  }
  const { trainer, tokenizer } = started;
  try {
    const { config } = trainer.options;
    const { source } = await openData(settings.data, config, settings.batch, settings.seed, null, false);
    return { trainer, vocab: tokenizer, source };
  } catch (err) {
    trainer.dispose();
    throw err;
  }
}

function settingsOf(trainer: Trainer, name: string, saveEvery: number, data: DataSpec): TrainSettings {
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
    data,
    startFrom: null,
  };
}

const api = {
  /** Acquires the GPU (throws NoWebGPUError without WebGPU) and describes it. */
  async info(): Promise<WorkerInfo> {
    const g = await ensureGpu();
    catalogue.sweep().catch(() => {});
    return { device: g.info };
  },

  /**
   * Starts a new run (a new model, or the model of a catalogued checkpoint); resolves once it is
   * built and running (progress comes through onEvent).
   */
  async start(settings: TrainSettings, onEvent: OnTrainEvent): Promise<RunInfo> {
    await replaceRun();
    const g = await ensureGpu();
    const weights = Object.fromEntries(
      LOSS_TERMS.map((t) => [t, settings.terms[t] ? 1 : 0]),
    ) as unknown as LossWeights;
    const overrides: RunOverrides = {
      steps: settings.steps,
      batch: settings.batch,
      lr: settings.lr,
      seed: settings.seed,
      weights,
      teacher: settings.teacher,
    };
    const { trainer, vocab, source } = settings.startFrom
      ? await startedFrom(g, settings, overrides)
      : await newModel(g, settings, overrides);
    const actual = { ...settings, preset: trainer.options.config.name };
    run = new Run(trainer, vocab, source, actual, null, null, onEvent);
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

  /** The current run's curves (null without a run), for the page's CSV download. */
  curves(): MetricHistory | null {
    return run?.curves ?? null;
  },

  /** How often the live probes refresh, and their text query. */
  setProbe(settings: ProbeSettings): void {
    setProbe(settings);
  },

  /** Refreshes the live probes now (for a new query while paused or finished). */
  async probeNow(): Promise<ProbeReport | null> {
    if (!run || (run.status === "failed" && gpuLost)) return null;
    return run.probeNow();
  },

  /**
   * Continues a catalogued checkpoint's run from its step, with its options and data position.
   * A run on shards picked as files needs the same files again (`files`). A finished run stays
   * loaded without training, unless `more` steps are asked for: its schedules are then stretched
   * to the new length (extendedSchedule) and it trains on.
   */
  async resumeFrom(
    id: string,
    onEvent: OnTrainEvent,
    saveEvery = 0,
    files: File[] = [],
    more = 0,
  ): Promise<RunInfo> {
    await replaceRun();
    const { entry, bytes, history } = await catalogue.get(id);
    const g = await ensureGpu();
    const read = readCheckpoint(bytes);
    const o = read.info.options;
    const ended = read.info.state.step >= o.steps;
    const extended = ended && more > 0 ? { ...o, ...extendedSchedule(o, more) } : null;
    if (extended) read.info.options = extended;
    const restored = restoreTrainer(g, read, (json) => Vocabulary.fromJSON(json));
    const { trainer, tokenizer } = restored;
    const finished = trainer.step >= trainer.options.steps;
    let source: ExampleSource;
    let data: DataSpec;
    try {
      data = dataSpecFromNotes(restored.info.notes, files);
      // A finished run reads no more data: its shards need not be reachable from here.
      source =
        finished && restored.source
          ? new SpentSource(restored.source)
          : (await openData(data, trainer.options.config, o.batch, o.seed, restored.source, false)).source;
    } catch (err) {
      trainer.dispose();
      const why = (err as Error).message;
      throw new CheckpointError(
        extended
          ? `its data cannot be read from here (${why}), so it cannot go on: to train its model further, start a new run from this checkpoint (Start from)`
          : why,
      );
    }
    const settings = settingsOf(trainer, entry.name, saveEvery, data);
    run = new Run(trainer, tokenizer, source, settings, entry, history, onEvent);
    const info = run.info(history);
    if (extended) {
      const s = extended.schedule;
      const at = read.info.state.step;
      info.extended =
        `continuing from step ${at} to ${extended.steps}: the learning-rate schedule is stretched to ` +
        `${extended.steps} steps, so the rate rises from ${learningRate(o.schedule, at - 1).toExponential(1)} ` +
        `to ${learningRate(s, at).toExponential(1)} and decays to ${s.minLr.toExponential(1)} by step ${extended.steps}`;
    }
    // A finished run has nothing left to do: it stays loaded (it can still be saved, probed) and
    // the page, seeing step >= steps in the info, says so.
    if (finished) run.status = "done";
    else run.begin();
    return info;
  },

  /** Joins the data worker (app/data-link.ts): batches come over this port. */
  connectData(port: MessagePort): void {
    feed = new FeedClient(port as FeedPort);
  },
};

// Test hook for the e2e tests (through Playwright's worker.evaluate): loses the GPU device as a
// driver reset or a watchdog would.
Object.assign(self, { tipsTestHooks: { loseDevice: () => gpu?.loseDevice() } });

export type TrainerApi = typeof api;

/** The data of a finished run: nothing more to read, and the position it was saved with. */
class SpentSource implements ExampleSource {
  readonly skipped: SkipCounts;

  constructor(private readonly saved: SourcePosition) {
    this.skipped = saved.kind === "shards" ? { ...saved.position.skipped } : emptySkipCounts();
  }

  async next(): Promise<Example[]> {
    return [];
  }

  position(): SourcePosition {
    return this.saved;
  }

  async close(): Promise<void> {}
}

Comlink.expose(api);
