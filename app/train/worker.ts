// The trainer worker: owns the GPUDevice, the model, the optimiser and the run's session (the
// training loop of src/train/session.ts, shared with `tips train`), so the page never blocks. The
// page drives it through Comlink (start, pause, resume, stop, save, resumeFrom) and hears about
// every step through a callback (a Comlink.proxy). Checkpoints go straight from here into
// IndexedDB (the catalogue), so their bytes never cross to the page.
//
// Data comes from the data worker (app/train/data.worker.ts) over a MessagePort that the page hands
// over once (connectData): it opens the run's source, builds a new run's vocabulary from the
// captions, and sends decoded batches a few steps ahead, each with the position after it.
import * as Comlink from "comlink";
import { type DataSpec, dataNotes, dataSpecFromNotes, renderSize } from "../../src/data/datasets";
import type { Example, ExampleSource, SourcePosition } from "../../src/data/examples";
import { FeedClient, type FeedPort, type RemoteSource } from "../../src/data/feed";
import { emptySkipCounts, type SkipCounts } from "../../src/data/skips";
import { Vocabulary } from "../../src/data/text/vocab";
import { DeviceLostError, MissingFeatureError } from "../../src/gpu/errors";
import { Gpu } from "../../src/gpu/gpu";
import { SafetensorsError } from "../../src/tensor/safetensors";
import { preset, type TipsConfig } from "../../src/tips/config";
import type { LossWeights } from "../../src/tips/loss";
import { CheckpointCatalogue, type CheckpointEntry, type MetricHistory } from "../../src/train/catalogue";
import {
  CheckpointError,
  readCheckpoint,
  restoreTrainer,
  saveCheckpoint,
  startFromCheckpoint,
} from "../../src/train/checkpoint";
import { checkTrainingFits } from "../../src/train/fits";
import { extendedSchedule, learningRate } from "../../src/train/schedule";
import { Session, type StepProgress } from "../../src/train/session";
import { type StepMetrics, Trainer, trainerOptions } from "../../src/train/trainer";
import {
  LOSS_TERMS,
  type OnTrainEvent,
  type ProbeReport,
  type ProbeSettings,
  type RunInfo,
  type StepReport,
  type TrainEvent,
  type TrainSettings,
  type WorkerError,
  type WorkerInfo,
} from "./api";
import { probeDue, runProbe, setProbe } from "./live-probes";

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
    size: renderSize(config.vision.imageSize),
    seed,
    position,
    vocabularySize: vocabulary ? config.text.vocabSize : null,
  });
}

function toWorkerError(err: unknown): WorkerError {
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: "Error", message: String(err) };
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

/**
 * One training run: the trainer, its data, its curves and checkpoints, and the session
 * (src/train/session.ts) whose loop trains it, pauses, stops and saves.
 */
class Run {
  readonly session: Session;
  private consumed: SourcePosition;
  private last: StepMetrics | null = null;
  private nanSkips = 0;
  private history: MetricHistory;

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
    const batches = {
      next: () => this.nextBatch(),
      get skipped() {
        return source.skipped;
      },
    };
    this.session = new Session(trainer, batches, {
      saveEvery: settings.saveEvery,
      progress: (p) => this.report(p),
      status: (status) => this.emit({ type: "status", status, step: trainer.step }),
      autosave: () => this.autosave(),
      probeDue,
      probe: () => this.probe(),
      failed: (err) => this.fail(err),
    });
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

  /** Trains to the end (a finished run stays loaded, done); the data closes when the loop ends. */
  begin(): void {
    this.session.start().then(() => this.source.close().catch(() => {}));
  }

  private emit(event: TrainEvent): void {
    // Fire and forget: the page answering late must not slow the loop (nor a closed page stop it).
    Promise.resolve(this.onEvent(event)).catch(() => {});
  }

  /** The next batch, and the data position after it for the checkpoint. */
  private async nextBatch(): Promise<Example[] | null> {
    const examples = await this.source.next(this.trainer.options.batch);
    if (examples.length < this.trainer.options.batch) return null;
    this.consumed = this.source.position();
    return examples;
  }

  /** The live probes on the current weights (with nothing in flight), sent to the page. */
  private async probe(): Promise<ProbeReport> {
    const report = await runProbe(this.trainer);
    this.emit({ type: "probe", report });
    return report;
  }

  /** Refreshes the probes now: a running loop stands still for it, as for a save. */
  probeNow(): Promise<ProbeReport> {
    return this.session.betweenSteps(() => this.probe());
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
    // A loss shows up as a failed dispatch or read first; give the lost promise a moment to settle.
    if (!gpuLost && gpu && !(err instanceof DeviceLostError))
      await Promise.race([gpu.device.lost, new Promise((r) => setTimeout(r, 200))]);
    const deviceLost = gpuLost || err instanceof DeviceLostError;
    // A loss seen first as a failed read keeps that read's message, under the loss's name.
    const error = deviceLost ? { ...toWorkerError(err), name: "DeviceLostError" } : toWorkerError(err);
    this.emit({ type: "error", error, fatal: true, deviceLost, checkpoint: this.checkpoint });
  }

  private report(p: StepProgress): void {
    const m = p.metrics;
    this.last = m;
    if (m.skipped) this.nanSkips++;
    const report: StepReport = {
      metrics: m,
      steps: this.trainer.options.steps,
      imagesPerSecond: p.imagesPerSecond,
      etaSeconds: p.etaSeconds,
      skippedSamples: { ...this.source.skipped },
      nanSkips: this.nanSkips,
    };
    const h = this.history;
    h.step.push(m.step + 1);
    h.total.push(m.loss.total);
    for (const t of LOSS_TERMS) h[t].push(m.loss[t]);
    h.lr.push(m.lr);
    h.gradNorm.push(Number.isFinite(m.gradNorm) ? m.gradNorm : null);
    h.imagesPerSecond.push(p.imagesPerSecond);
    this.emit({ type: "step", report });
  }

  /** Saves at a step boundary: a running loop stands still for the save and goes on after it. */
  save(name: string): Promise<CheckpointEntry> {
    return this.session.betweenSteps(() => this.saveNow(name, false));
  }

  /** Writes the checkpoint; the trainer must be at a step boundary with nothing in flight. */
  private async saveNow(name: string, auto: boolean): Promise<CheckpointEntry> {
    if (this.session.status === "failed" && gpuLost)
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
  if (run?.session.active) throw new Error("a run is in progress: stop it before starting another");
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
    return run?.session.pause() ?? Promise.resolve();
  },

  resume(): void {
    run?.session.resume();
  },

  async stop(): Promise<void> {
    await run?.session.stop();
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
    if (!run || (run.session.status === "failed" && gpuLost)) return null;
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
    // A finished run has nothing left to do: it stays loaded, done (it can still be saved, probed),
    // and the page, seeing step >= steps in the info, says so.
    run.begin();
    return info;
  },

  /** Joins the data worker (app/train/data-link.ts): batches come over this port. */
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
