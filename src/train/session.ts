// The life of a training run, shared by the Train page's worker (app/train/worker.ts) and
// `tips train` (src/cli/train.ts): a loop that records steps with at most STEPS_IN_FLIGHT of them
// unread, reports each step's metrics in order, saves every N steps and at the end, runs the
// probes when due, and answers pause, resume, stop and work asked for between two steps (a save,
// a probe). Only the loop touches the trainer while it runs: work from outside is queued, and the
// loop runs it at a step boundary with nothing in flight. Every wait is on a promise, never a timer.
import type { Example } from "../data/examples";
import { describeSkips, type SkipCounts } from "../data/skips";
import type { StepMetrics } from "./trainer";

/**
 * Steps recorded and not yet read back, at most. Two: while the loop waits for the older step's
 * metrics, the GPU already has the newer one to work on, so it never idles for a readback; a
 * third gains nothing (the readback is short next to a step) and makes a pause, stop or save wait
 * for one more step.
 */
export const STEPS_IN_FLIGHT = 2;

export type SessionStatus =
  | "idle"
  | "running"
  | "pausing"
  | "paused"
  | "stopping"
  | "stopped"
  | "done"
  | "failed";

/** What a session needs of a Trainer (src/train/trainer.ts). */
export interface SessionTrainer {
  /** Steps recorded so far: a step counts once recorded, before its metrics are read back. */
  readonly step: number;
  readonly options: { readonly steps: number };
  trainStep(examples: Example[]): Promise<StepMetrics>;
}

/** The batches a session trains on. */
export interface SessionData {
  /** The next batch; null once the data cannot fill one. */
  next(): Promise<Example[] | null>;
  /** Samples dropped so far, by reason (named when the data runs out). */
  readonly skipped: SkipCounts;
}

export interface StepProgress {
  metrics: StepMetrics;
  /** Over the last 20 steps since the loop last stood still; null until two steps have reported. */
  imagesPerSecond: number | null;
  /** Seconds to the end at that pace (null while it is unknown). */
  etaSeconds: number | null;
}

/** What the owner of a session does at each point of the run. */
export interface SessionSetup {
  /** Also save every this many steps (0: never). */
  saveEvery?: number;
  /** Each step's metrics, in step order; awaited before the next one is reported. */
  progress?(p: StepProgress): void | Promise<void>;
  /** Each change of status. */
  status?(s: Exclude<SessionStatus, "idle">): void;
  /** Saves every `saveEvery` steps and at the end of a run that was not stopped; a throw fails the run. */
  autosave?(): Promise<void>;
  /** Whether the probes are due after `step` steps. */
  probeDue?(step: number): boolean;
  probe?(): Promise<unknown>;
  /** What made the run fail; awaited before the status turns to failed. */
  failed?(err: unknown): void | Promise<void>;
}

interface Request {
  work: () => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (err: unknown) => void;
}

export class Session {
  status: SessionStatus = "idle";
  private readonly pending: Promise<StepMetrics>[] = [];
  /** Work asked for between steps, for the loop to run at its next step boundary. */
  private readonly requests: Request[] = [];
  private paused = false;
  private stopRequested = false;
  private loop: Promise<void> | null = null;
  private ended = false;
  /** Set while the loop stands paused: wakes it. */
  private wake: (() => void) | null = null;
  /** pause() calls waiting for the loop to stand still. */
  private stillWaiters: (() => void)[] = [];
  /** Work asked for when no loop runs (before the start, after the end), one after another. */
  private idle: Promise<unknown> = Promise.resolve();
  /**
   * Times and batch sizes of the last 21 reports since the loop last stood still (the start, a
   * pause, a save): rates are taken over the intervals between them, so a wait (compiling the
   * kernels for the first step, writing a checkpoint) is not counted.
   */
  private pace: { time: number; examples: number }[] = [];

  constructor(
    readonly trainer: SessionTrainer,
    private readonly data: SessionData,
    private readonly setup: SessionSetup = {},
  ) {}

  /** Started and not ended. */
  get active(): boolean {
    return this.loop !== null && !this.ended;
  }

  /** Starts the loop; resolves when the run has ended (done, stopped or failed), never rejects. */
  start(): Promise<void> {
    if (this.status !== "idle") return this.loop ?? Promise.resolve();
    if (this.trainer.step >= this.trainer.options.steps) {
      // Nothing to train and nothing to save; the owner, who resumed a finished run, says so itself.
      this.status = "done";
      this.ended = true;
      this.loop = Promise.resolve();
      return this.loop;
    }
    this.setStatus("running");
    this.loop = this.run();
    return this.loop;
  }

  /** Resolves once the loop stands still (paused with nothing in flight) or has ended. */
  pause(): Promise<void> {
    if (!this.active || this.stopRequested || this.wake) return Promise.resolve();
    if (!this.paused) {
      this.paused = true;
      this.setStatus("pausing");
    }
    return new Promise((resolve) => this.stillWaiters.push(resolve));
  }

  resume(): void {
    if (!this.active || !this.paused || this.stopRequested) return;
    this.paused = false;
    this.setStatus("running");
    this.releaseStillWaiters();
    this.wake?.();
  }

  /** Stops at the next step boundary, after the work under way; resolves when the loop has ended. */
  async stop(): Promise<void> {
    if (this.status === "idle") {
      this.stopRequested = true;
      this.end("stopped");
      return;
    }
    if (!this.active) return;
    if (!this.stopRequested) {
      this.stopRequested = true;
      this.setStatus("stopping");
    }
    this.wake?.();
    await this.loop;
  }

  /**
   * Runs `work` (a save, a probe) at a step boundary with nothing in flight, and the loop goes on
   * after it (a paused one stays paused). Without a running loop it runs at once, after the work
   * asked for before it.
   */
  betweenSteps<T>(work: () => Promise<T>): Promise<T> {
    if (!this.active) return this.runIdle(work);
    return new Promise<T>((resolve, reject) => {
      this.requests.push({ work, resolve: resolve as (v: unknown) => void, reject });
      this.wake?.();
    });
  }

  private async run(): Promise<void> {
    const { trainer } = this;
    const steps = trainer.options.steps;
    const every = this.setup.saveEvery ?? 0;
    try {
      while (trainer.step < steps && !this.stopRequested) {
        if (this.requests.length) {
          await this.runRequests();
          continue;
        }
        if (this.paused) {
          await this.park();
          continue;
        }
        if (this.pending.length >= STEPS_IN_FLIGHT) {
          // Read the oldest back, then look again at what was asked for meanwhile.
          await this.report(await this.pending.shift()!);
          continue;
        }
        await this.record();
        if (this.setup.probeDue?.(trainer.step)) {
          // The probes wait for the steps in flight anyway: report those first.
          await this.drain();
          await this.setup.probe?.();
        }
        if (every > 0 && trainer.step % every === 0 && trainer.step < steps) {
          await this.drain();
          await this.setup.autosave?.();
          this.pace = [];
        }
      }
      await this.drain();
      if (!this.stopRequested) await this.setup.autosave?.();
      this.end(this.stopRequested ? "stopped" : "done");
    } catch (err) {
      try {
        await this.setup.failed?.(err);
      } finally {
        this.end("failed");
      }
    }
  }

  /** Records one step on the next batch (a batch taken is always trained on: the data position moved). */
  private async record(): Promise<void> {
    const examples = await this.data.next();
    if (!examples) {
      const skips = describeSkips(this.data.skipped);
      throw new Error(
        `the data ran out after ${this.trainer.step} steps${skips ? `; samples skipped: ${skips}` : ""}`,
      );
    }
    const step = this.trainer.trainStep(examples);
    step.catch(() => {}); // reported where it is awaited; never an unhandled rejection
    this.pending.push(step);
  }

  /** Awaits and reports the steps in flight. */
  private async drain(): Promise<void> {
    while (this.pending.length) await this.report(await this.pending.shift()!);
  }

  private async runRequests(): Promise<void> {
    await this.drain();
    for (let r = this.requests.shift(); r; r = this.requests.shift()) {
      try {
        r.resolve(await r.work());
      } catch (err) {
        r.reject(err); // the caller's to report: the run goes on
      }
    }
    this.pace = [];
  }

  /** Stands still until resumed, stopped or asked for work. */
  private async park(): Promise<void> {
    await this.drain();
    if (this.requests.length || !this.paused || this.stopRequested) return;
    if (this.status === "pausing") this.setStatus("paused");
    const woken = new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    this.releaseStillWaiters();
    await woken;
    this.wake = null;
    this.pace = [];
  }

  private runIdle<T>(work: () => Promise<T>): Promise<T> {
    const next = this.idle.then(work);
    this.idle = next.catch(() => {});
    return next;
  }

  /** The loop's last act: from here on, work asked for runs at once. */
  private end(status: "stopped" | "done" | "failed"): void {
    this.ended = true;
    this.setStatus(status);
    this.releaseStillWaiters();
    for (const r of this.requests.splice(0)) this.runIdle(r.work).then(r.resolve, r.reject);
  }

  private releaseStillWaiters(): void {
    for (const resolve of this.stillWaiters.splice(0)) resolve();
  }

  private setStatus(status: Exclude<SessionStatus, "idle">): void {
    this.status = status;
    this.setup.status?.(status);
  }

  private async report(m: StepMetrics): Promise<void> {
    const now = performance.now();
    this.pace.push({ time: now, examples: m.examples });
    if (this.pace.length > 21) this.pace.shift();
    const span = (now - this.pace[0].time) / 1000;
    const stepsIn = this.pace.length - 1;
    const examplesIn = this.pace.slice(1).reduce((n, p) => n + p.examples, 0);
    const known = stepsIn > 0 && span > 0;
    await this.setup.progress?.({
      metrics: m,
      imagesPerSecond: known ? examplesIn / span : null,
      etaSeconds: known ? ((this.trainer.options.steps - m.step - 1) * span) / stepsIn : null,
    });
  }
}
