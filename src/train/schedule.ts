// Per-step schedules of a run, as DINOv2/iBOT use them: linear warm-up then cosine decay of the
// learning rate, a cosine ramp of the EMA teacher's momentum towards 1, and a linear warm-up of
// the teacher's CLS temperature.

export interface ScheduleOptions {
  steps: number;
  /** Steps of linear learning-rate warm-up from 0. */
  warmupSteps: number;
  /** Peak learning rate (reached at the end of warm-up). */
  lr: number;
  /** Final learning rate of the cosine decay. */
  minLr: number;
  /** EMA momentum of the teacher: from the first to the second value, cosine over the run. */
  momentum: [number, number];
  /** Teacher CLS temperature: from the first to the second value over `teacherTempSteps`. */
  teacherTemp: [number, number];
  teacherTempSteps: number;
}

/** Cosine from a (at 0) to b (at `of`), constant b afterwards. */
function cosine(a: number, b: number, at: number, of: number): number {
  if (of <= 0 || at >= of) return b;
  return b + 0.5 * (a - b) * (1 + Math.cos((Math.PI * at) / of));
}

export function learningRate(s: ScheduleOptions, step: number): number {
  if (step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  return cosine(s.lr, s.minLr, step - s.warmupSteps, s.steps - s.warmupSteps);
}

export function teacherMomentum(s: ScheduleOptions, step: number): number {
  return cosine(s.momentum[0], s.momentum[1], step, s.steps);
}

export function teacherTemperature(s: ScheduleOptions, step: number): number {
  const [from, to] = s.teacherTemp;
  if (step >= s.teacherTempSteps) return to;
  return from + ((to - from) * step) / s.teacherTempSteps;
}

export function defaultSchedule(steps: number, lr: number): ScheduleOptions {
  return {
    steps,
    warmupSteps: Math.min(Math.round(steps / 10), 1000),
    lr,
    minLr: lr / 100,
    momentum: [0.996, 1],
    teacherTemp: [0.04, 0.07],
    teacherTempSteps: Math.round(steps / 3),
  };
}

/**
 * A finished run continued for `more` steps: the schedules are stretched to the new length (the
 * warm-up and the teacher temperature's ramp keep their steps), so the learning rate rises again
 * at the old end and decays to the same final value by the new one.
 */
export function extendedSchedule(
  o: { steps: number; schedule: ScheduleOptions },
  more: number,
): { steps: number; schedule: ScheduleOptions } {
  if (!Number.isInteger(more) || more < 1)
    throw new Error(`steps to add must be a whole number of at least 1, not ${more}`);
  return { steps: o.steps + more, schedule: { ...o.schedule, steps: o.schedule.steps + more } };
}
