// The run's schedules at given steps, for a 100-step run of the default recipe: learning-rate
// warm-up then cosine decay, the EMA momentum's cosine ramp from 0.996 to 1 (iBOT, TIPS), the
// teacher temperature's linear warm-up from 0.04 to 0.07 over the first third.
import { describe, expect, it } from "vitest";
import {
  defaultSchedule,
  extendedSchedule,
  learningRate,
  teacherMomentum,
  teacherTemperature,
} from "../../src/train/schedule";

const s = defaultSchedule(100, 1e-3);

describe("default schedule of a 100-step run", () => {
  it("warms the learning rate up over 10 steps, then decays it on a cosine to lr / 100", () => {
    expect(s.warmupSteps).toBe(10);
    expect(learningRate(s, 0)).toBeCloseTo(1e-4, 12);
    expect(learningRate(s, 4)).toBeCloseTo(5e-4, 12);
    expect(learningRate(s, 9)).toBeCloseTo(1e-3, 12);
    expect(learningRate(s, 10)).toBeCloseTo(1e-3, 12);
    // Half-way through the decay: the mean of the peak and the floor.
    expect(learningRate(s, 55)).toBeCloseTo((1e-3 + 1e-5) / 2, 12);
    expect(learningRate(s, 100)).toBeCloseTo(1e-5, 12);
  });

  it("raises the EMA momentum from 0.996 to 1 on a cosine", () => {
    expect(teacherMomentum(s, 0)).toBe(0.996);
    expect(teacherMomentum(s, 25)).toBeCloseTo(1 - 0.002 * (1 + Math.SQRT1_2), 12);
    expect(teacherMomentum(s, 50)).toBeCloseTo(0.998, 12);
    expect(teacherMomentum(s, 100)).toBe(1);
  });

  it("warms the teacher temperature up from 0.04 to 0.07 over the first third, then holds it", () => {
    expect(s.teacherTempSteps).toBe(33);
    expect(teacherTemperature(s, 0)).toBeCloseTo(0.04, 12);
    expect(teacherTemperature(s, 11)).toBeCloseTo(0.05, 12);
    expect(teacherTemperature(s, 33)).toBeCloseTo(0.07, 12);
    expect(teacherTemperature(s, 99)).toBeCloseTo(0.07, 12);
  });
});

describe("a finished 100-step run continued for 100 more", () => {
  const { steps, schedule } = extendedSchedule({ steps: 100, schedule: s }, 100);

  it("stretches the decay to 200 steps: the rate rises again at step 100 and ends at lr / 100", () => {
    expect(steps).toBe(200);
    expect(learningRate(s, 100)).toBeCloseTo(1e-5, 12);
    // Step 100 of a decay from step 10 to 200: cos(pi * 90 / 190).
    expect(learningRate(schedule, 100)).toBeCloseTo(
      1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + Math.cos((Math.PI * 90) / 190)),
      12,
    );
    expect(learningRate(schedule, 200)).toBeCloseTo(1e-5, 12);
    expect(schedule.warmupSteps).toBe(10);
    expect(teacherMomentum(schedule, 200)).toBe(1);
    expect(teacherMomentum(schedule, 100)).toBeLessThan(1);
  });

  it("refuses a number of steps that is not a whole number of at least 1", () => {
    expect(() => extendedSchedule({ steps: 100, schedule: s }, 0)).toThrow("at least 1");
    expect(() => extendedSchedule({ steps: 100, schedule: s }, 2.5)).toThrow("whole number");
  });
});
