// Linear probes trained on the GPU: a linearly separable synthetic "patch" dataset is segmented
// perfectly, and a linear depth function is recovered; minibatches and seeds behave.
import { describe, expect, it } from "vitest";
import { LinearClassifier, LinearRegressor } from "../../src/eval/linear-probe";
import { meanIoU, rmse } from "../../src/eval/metrics";
import { Rng } from "../../src/tensor/rng";
import { testGpu } from "../helpers/gpu";

const DIM = 8;
const CLASSES = 4;

/** Patch features whose class is decided by a linear rule with a margin: argmax of (W x)_c. */
function separable(rng: Rng, n: number, w: Float64Array) {
  const x = new Float32Array(n * DIM);
  const y = new Int32Array(n);
  for (let r = 0; r < n; ) {
    const f = Array.from({ length: DIM }, () => 2 * rng.normal() + 1);
    const scores = Array.from({ length: CLASSES }, (_, c) =>
      f.reduce((s, v, j) => s + v * w[c * DIM + j], 0),
    );
    const sorted = [...scores].sort((a, b) => b - a);
    if (sorted[0] - sorted[1] < 4) continue; // keep a margin, so a linear fit is exact
    x.set(f, r * DIM);
    y[r] = scores.indexOf(sorted[0]);
    r++;
  }
  return { x, y };
}

describe("linear probes on the GPU", () => {
  it("segment a linearly separable patch dataset with mIoU 1", async () => {
    const gpu = await testGpu();
    const rng = new Rng(11);
    const w = Float64Array.from({ length: CLASSES * DIM }, () => rng.normal());
    const train = separable(rng, 512, w);
    const test = separable(rng, 256, w);
    const probe = await LinearClassifier.fit(gpu, train.x, train.y, DIM, CLASSES, {
      steps: 150,
      lr: 0.1,
      seed: 1,
    });
    expect(probe.trainLoss).toBeLessThan(0.1);
    expect(meanIoU(await probe.predict(train.x), train.y, CLASSES).mIoU).toBe(1);
    expect(meanIoU(await probe.predict(test.x), test.y, CLASSES).mIoU).toBe(1);
    probe.dispose();
  });

  it("recover a linear depth function with RMSE near 0", async () => {
    const gpu = await testGpu();
    const rng = new Rng(12);
    const w = Float64Array.from({ length: DIM }, () => rng.normal());
    const make = (n: number) => {
      const x = Float32Array.from({ length: n * DIM }, () => 3 * rng.normal() + 2);
      const y = Float32Array.from({ length: n }, (_, r) => {
        let s = 0.7;
        for (let j = 0; j < DIM; j++) s += 0.02 * w[j] * x[r * DIM + j];
        return s;
      });
      return { x, y };
    };
    const train = make(512);
    const test = make(256);
    const probe = await LinearRegressor.fit(gpu, train.x, train.y, DIM, { steps: 200, lr: 0.05 });
    const spread = rmse(new Float32Array(test.y.length).fill(0.7), test.y);
    const error = rmse(await probe.predict(test.x), test.y);
    expect(error).toBeLessThan(0.01 * spread);
    probe.dispose();
  });

  it("train with minibatches, reproducibly for a seed", async () => {
    const gpu = await testGpu();
    const rng = new Rng(13);
    const w = Float64Array.from({ length: CLASSES * DIM }, () => rng.normal());
    const train = separable(rng, 300, w);
    const fitSeeded = (seed: number) =>
      LinearClassifier.fit(gpu, train.x, train.y, DIM, CLASSES, { steps: 60, lr: 0.1, batch: 64, seed });
    const a = await fitSeeded(5);
    const b = await fitSeeded(5);
    const la = await a.logits(train.x.subarray(0, 10 * DIM));
    expect(await b.logits(train.x.subarray(0, 10 * DIM))).toEqual(la);
    expect(meanIoU(await a.predict(train.x), train.y, CLASSES).mIoU).toBeGreaterThan(0.9);
    for (const p of [a, b]) p.dispose();
    await expect(LinearClassifier.fit(gpu, train.x, train.y, DIM, 2)).rejects.toThrow(/outside \[0, 2\)/);
  });
});
