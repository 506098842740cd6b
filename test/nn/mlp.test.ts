// End to end through the engine: a 2-layer MLP learns a toy regression in Node, and many
// training iterations allocate no new GPU buffers once the pool is warm.
import { describe, expect, it } from "vitest";
import type { Gpu } from "../../src/gpu/gpu";
import { Mlp } from "../../src/nn/mlp";
import { valueAndGrad } from "../../src/ops/autograd";
import { mul, sub } from "../../src/ops/elementwise";
import { mean } from "../../src/ops/reduce";
import { ParameterStore } from "../../src/tensor/params";
import { Rng } from "../../src/tensor/rng";
import { tidy } from "../../src/tensor/scope";
import { Tensor } from "../../src/tensor/tensor";
import { AdamW } from "../../src/train/adamw";
import { testGpu } from "../helpers/gpu";

/** Points in [-1, 1]^2 and the target sin(3x) cos(2y), a smooth bumpy surface. */
function toyData(gpu: Gpu, n: number, rng: Rng) {
  const x = rng.uniformArray(2 * n, -1, 1);
  const y = new Float32Array(n).map((_, i) => Math.sin(3 * x[2 * i]) * Math.cos(2 * x[2 * i + 1]));
  return { x: Tensor.from(gpu, x, [n, 2]), y: Tensor.from(gpu, y, [n, 1]) };
}

/** One full-batch AdamW step; returns the loss tensor (read it later, never block the loop). */
function trainStep(opt: AdamW, mlp: Mlp, x: Tensor, y: Tensor, lr: number): Tensor {
  return tidy(() => {
    const { value, grads } = valueAndGrad(() => {
      const err = sub(mlp.forward(x), y);
      return mean(mul(err, err));
    }, opt.params.tensors);
    opt.setGrads(grads);
    opt.step(lr);
    return value;
  });
}

describe("MLP", () => {
  it("learns sin(3x)cos(2y) with AdamW: mean squared error falls from over 0.1 to below 0.01 in 200 steps", async () => {
    const gpu = await testGpu();
    const rng = new Rng(3);
    const params = new ParameterStore(gpu);
    const mlp = new Mlp(params, "mlp", { input: 2, hidden: 32, output: 1 }, "gelu", rng);
    const opt = new AdamW(params, { weightDecay: 0 });
    const { x, y } = toyData(gpu, 256, rng);
    const losses: Promise<number>[] = [];
    const steps = 200;
    for (let step = 0; step < steps; step++) {
      const loss = trainStep(opt, mlp, x, y, 0.02);
      if (step % 50 === 0 || step === steps - 1) losses.push(loss.read().then((v) => v[0]));
      else loss.dispose();
    }
    const curve = await Promise.all(losses);
    expect(curve[0]).toBeGreaterThan(0.1);
    expect(curve[curve.length - 1]).toBeLessThan(0.01);
    opt.dispose();
    params.dispose();
    x.dispose();
    y.dispose();
  });

  it("1,000 forward+backward+update iterations allocate no new GPU buffers after warm-up", async () => {
    const gpu = await testGpu();
    const rng = new Rng(5);
    const params = new ParameterStore(gpu);
    const mlp = new Mlp(params, "mlp", { input: 2, hidden: 16, output: 1 }, "relu", rng);
    const opt = new AdamW(params);
    const { x, y } = toyData(gpu, 32, rng);
    let warm = 0;
    let inUse = 0;
    for (let step = 0; step < 1000; step++) {
      trainStep(opt, mlp, x, y, 0.01).dispose();
      if (step === 4) {
        warm = gpu.pool.created;
        inUse = gpu.pool.bytesInUse;
      }
      if (step % 50 === 0) await gpu.sync();
    }
    await gpu.sync();
    expect(gpu.pool.created).toBe(warm);
    expect(gpu.pool.bytesInUse).toBe(inUse);
    opt.dispose();
    params.dispose();
    x.dispose();
    y.dispose();
  });
});
