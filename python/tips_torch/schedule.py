"""Per-step schedules, as src/train/schedule.ts: linear warm-up then cosine decay of the learning
rate, a cosine ramp of the teacher's EMA momentum, a linear warm-up of the teacher temperature."""
import math


def _cosine(a, b, at, of):
    if of <= 0 or at >= of:
        return b
    return b + 0.5 * (a - b) * (1 + math.cos(math.pi * at / of))


def learning_rate(s, step):
    if step < s["warmupSteps"]:
        return s["lr"] * (step + 1) / s["warmupSteps"]
    return _cosine(s["lr"], s["minLr"], step - s["warmupSteps"], s["steps"] - s["warmupSteps"])


def teacher_momentum(s, step):
    return _cosine(s["momentum"][0], s["momentum"][1], step, s["steps"])


def teacher_temperature(s, step):
    a, b = s["teacherTemp"]
    if step >= s["teacherTempSteps"]:
        return b
    return a + (b - a) * step / s["teacherTempSteps"]
