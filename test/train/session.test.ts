// The run's Session (src/train/session.ts) on a fake trainer whose steps the tests settle by
// hand: each transition (start, pause, resume, stop, save, probe, the end) and each race (stop
// during a save, pause during a probe, save during a stop, a step that throws, a lost device,
// stop before the first step is read back, double stop and pause). No GPU: the real Trainer runs
// through the same Session in test/cli/train.test.ts and train-faults.test.ts.
import { describe, expect, it } from "vitest";
import type { Example } from "../../src/data/examples";
import { emptySkipCounts } from "../../src/data/skips";
import { DeviceLostError } from "../../src/gpu/errors";
import { Session, type SessionSetup, type SessionTrainer, STEPS_IN_FLIGHT } from "../../src/train/session";
import type { StepMetrics } from "../../src/train/trainer";

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (err: unknown) => void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function metrics(step: number): StepMetrics {
  const loss = { total: 1, web: 1, syn: null, dino: null, mim: null, sparc: null, rils: null };
  return {
    step,
    loss,
    lr: 1e-3,
    momentum: 0.99,
    teacherTemp: 0.04,
    gradNorm: 1,
    skipped: false,
    examples: 2,
  };
}

/** Lets the loop run until it waits on something the test holds. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

/**
 * A trainer whose steps are read back when the test says (`manual`), or at once. `throwAt`: the
 * step whose recording throws.
 */
class FakeTrainer implements SessionTrainer {
  step = 0;
  readonly options: { steps: number };
  readonly recorded: Deferred<StepMetrics>[] = [];

  constructor(
    steps: number,
    private readonly manual = false,
    private readonly throwAt = -1,
  ) {
    this.options = { steps };
  }

  trainStep(_examples: Example[]): Promise<StepMetrics> {
    if (this.step === this.throwAt) throw new Error(`step ${this.step} failed to record`);
    const d = deferred<StepMetrics>();
    this.recorded.push(d);
    if (!this.manual) d.resolve(metrics(this.step));
    this.step++;
    return d.promise;
  }

  /** Reads back every step recorded so far. */
  readBack(): void {
    for (const [s, d] of this.recorded.entries()) d.resolve(metrics(s));
  }
}

const batches = { next: async (): Promise<Example[] | null> => [], skipped: emptySkipCounts() };

/** A session on `trainer` that logs what it does: statuses, reported steps, saves and probes. */
function logged(trainer: FakeTrainer, setup: SessionSetup = {}) {
  const log: string[] = [];
  let reported = 0;
  const session = new Session(trainer, batches, {
    status: (s) => log.push(s),
    ...setup,
    progress: (p) => {
      reported = p.metrics.step + 1;
      return setup.progress?.(p);
    },
    autosave: async () => {
      // A checkpoint is only ever written with every recorded step read back.
      log.push(`save ${trainer.step}${reported === trainer.step ? "" : ` with steps in flight`}`);
      await setup.autosave?.();
    },
  });
  return { session, log, reported: () => reported };
}

describe("Session", () => {
  it("trains to the end: steps reported in order, saves every N steps and at the end, probes when due", async () => {
    const trainer = new FakeTrainer(6);
    const steps: number[] = [];
    const { session, log } = logged(trainer, {
      saveEvery: 2,
      progress: (p) => {
        steps.push(p.metrics.step);
      },
      probeDue: (step) => step === 3,
      probe: async () => log.push(`probe ${trainer.step}`),
    });
    await session.start();
    expect(steps).toEqual([0, 1, 2, 3, 4, 5]);
    expect(log).toEqual(["running", "save 2", "probe 3", "save 4", "save 6", "done"]);
    expect(session.active).toBe(false);
  });

  it(`keeps at most ${STEPS_IN_FLIGHT} steps in flight`, async () => {
    const trainer = new FakeTrainer(4, true);
    const { session } = logged(trainer);
    const ended = session.start();
    await settle();
    expect(trainer.recorded).toHaveLength(2);
    trainer.recorded[0].resolve(metrics(0));
    await settle();
    expect(trainer.recorded).toHaveLength(3);
    for (let s = 1; s < 4; s++) {
      trainer.recorded[s]?.resolve(metrics(s));
      await settle();
    }
    await ended;
    expect(session.status).toBe("done");
  });

  it("pauses with nothing in flight, stays paused through a save, and resumes; a second pause changes nothing", async () => {
    const trainer = new FakeTrainer(6, true);
    const { session, log, reported } = logged(trainer);
    const ended = session.start();
    await settle();
    let paused = false;
    const first = session.pause().then(() => {
      paused = true;
    });
    const second = session.pause();
    await settle();
    expect(paused).toBe(false); // the steps in flight are read back first
    trainer.readBack();
    await Promise.all([first, second]);
    expect(session.status).toBe("paused");
    expect(reported()).toBe(trainer.step);
    await session.pause(); // already standing still
    const step = trainer.step;
    const saved = await session.betweenSteps(async () => `saved at ${trainer.step}`);
    expect(saved).toBe(`saved at ${step}`);
    await settle();
    expect(trainer.step).toBe(step); // still paused
    expect(session.status).toBe("paused");
    session.resume();
    session.resume();
    await settle();
    expect(trainer.step).toBe(step + 2);
    for (let s = step; s < 6; s++) {
      trainer.recorded[s]?.resolve(metrics(s));
      await settle();
    }
    await ended;
    expect(log).toEqual(["running", "pausing", "paused", "running", "save 6", "done"]);
  });

  it("pauses after a probe under way, recording no step after it", async () => {
    const trainer = new FakeTrainer(10);
    const probing = deferred();
    const probeStarted = deferred();
    const { session, log } = logged(trainer, {
      probeDue: (step) => step === 2,
      probe: () => {
        probeStarted.resolve();
        return probing.promise;
      },
    });
    const ended = session.start();
    await probeStarted.promise;
    let paused = false;
    const pause = session.pause().then(() => {
      paused = true;
    });
    await settle();
    expect(paused).toBe(false);
    expect(session.status).toBe("pausing");
    probing.resolve();
    await pause;
    await settle();
    expect(trainer.step).toBe(2);
    expect(session.status).toBe("paused");
    await session.stop();
    await ended;
    expect(log).toEqual(["running", "pausing", "paused", "stopping", "stopped"]);
  });

  it("stops after a save under way, without the end-of-run save", async () => {
    const trainer = new FakeTrainer(10);
    const saving = deferred();
    const saveStarted = deferred();
    const { session, log } = logged(trainer, {
      saveEvery: 3,
      autosave: () => {
        saveStarted.resolve();
        return saving.promise;
      },
    });
    session.start();
    await saveStarted.promise;
    let stopped = false;
    const stop = session.stop().then(() => {
      stopped = true;
    });
    await settle();
    expect(stopped).toBe(false); // the save is written whole first
    saving.resolve();
    await stop;
    expect(trainer.step).toBe(3);
    expect(log).toEqual(["running", "save 3", "stopping", "stopped"]);
  });

  it("saves when asked during a stop, with the steps in flight read back", async () => {
    const trainer = new FakeTrainer(10, true);
    const { session, log, reported } = logged(trainer);
    session.start();
    await settle();
    const stop = session.stop();
    const save = session.betweenSteps(async () => `${trainer.step} steps, ${reported()} read back`);
    await settle();
    trainer.readBack();
    await stop;
    expect(await save).toBe("2 steps, 2 read back");
    expect(log).toEqual(["running", "stopping", "stopped"]);
    // After the end, work runs at once, one after another.
    const order: number[] = [];
    await Promise.all([1, 2].map((n) => session.betweenSteps(async () => order.push(n))));
    expect(order).toEqual([1, 2]);
  });

  it("fails on a step that throws, and the run's owner hears why before the status turns", async () => {
    const trainer = new FakeTrainer(10, false, 3);
    const { session, log } = logged(trainer, {
      failed: (err) => {
        log.push(`failed: ${(err as Error).message}`);
      },
    });
    await session.start();
    expect(log).toEqual(["running", "failed: step 3 failed to record", "failed"]);
    expect(session.active).toBe(false);
  });

  it("fails on a lost device; the steps after it, a waiting pause and a save asked for meanwhile all settle", async () => {
    const trainer = new FakeTrainer(10, true);
    const failing = deferred();
    const { session, log } = logged(trainer, {
      failed: async (err) => {
        log.push(`failed: ${(err as Error).name}`);
        await failing.promise; // the worker gives the device's lost promise a moment
      },
    });
    const ended = session.start();
    await settle();
    const lost = new DeviceLostError("unknown", "the device was lost");
    for (const step of trainer.recorded) step.reject(lost);
    const pause = session.pause();
    await settle();
    const save = session.betweenSteps(async () => session.status);
    failing.resolve();
    await Promise.all([ended, pause]);
    expect(await save).toBe("failed");
    expect(log).toEqual(["running", "pausing", "failed: DeviceLostError", "failed"]);
  });

  it("stops before the first step is read back, and a stop before the start keeps it from starting", async () => {
    const trainer = new FakeTrainer(10, true);
    const { session, log } = logged(trainer);
    session.start();
    const stops = [session.stop(), session.stop()];
    await settle();
    trainer.readBack();
    await Promise.all(stops);
    expect(trainer.step).toBe(1);
    expect(log).toEqual(["running", "stopping", "stopped"]);
    await session.stop();
    await session.start();
    expect(log).toHaveLength(3);

    const never = new FakeTrainer(10);
    const early = logged(never);
    await early.session.stop();
    await early.session.start();
    expect(never.step).toBe(0);
    expect(early.log).toEqual(["stopped"]);
  });

  it("says when the data runs out, and leaves a finished run done without training or saving", async () => {
    const trainer = new FakeTrainer(10);
    const skipped = { ...emptySkipCounts(), bad_image: 3 };
    const empty = { next: async () => (trainer.step < 2 ? [] : null), skipped };
    let why = "";
    const session = new Session(trainer, empty, {
      failed: (err) => {
        why = (err as Error).message;
      },
    });
    await session.start();
    expect(why).toBe("the data ran out after 2 steps; samples skipped: bad_image 3");

    const finished = new FakeTrainer(0);
    const { session: done, log } = logged(finished);
    await done.start();
    expect(done.status).toBe("done");
    expect(log).toEqual([]);
  });
});
