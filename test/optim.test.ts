// AdamW and the EMA teacher against float64 references.
import { describe, expect, it } from "vitest";
import { ParameterStore } from "../src/tensor/params";
import { Rng } from "../src/tensor/rng";
import { tidy } from "../src/tensor/scope";
import { Tensor } from "../src/tensor/tensor";
import { AdamW } from "../src/train/adamw";
import { EmaTeacher } from "../src/train/ema";
import { testGpu } from "./gpu";

interface RefParam {
  w: Float64Array;
  m: Float64Array;
  v: Float64Array;
  decay: boolean;
}

/** PyTorch's AdamW with global norm clipping (torch.nn.utils.clip_grad_norm_), in float64. */
function refStep(ps: RefParam[], grads: Float64Array[], t: number, lr: number, o: Required<Opts>) {
  let sumsq = 0;
  for (const g of grads) for (const x of g) sumsq += x * x;
  if (!Number.isFinite(sumsq)) return;
  const clip = o.maxGradNorm > 0 ? Math.min(1, o.maxGradNorm / (Math.sqrt(sumsq) + 1e-6)) : 1;
  ps.forEach((p, j) => {
    for (let i = 0; i < p.w.length; i++) {
      const g = grads[j][i] * clip;
      p.m[i] = o.beta1 * p.m[i] + (1 - o.beta1) * g;
      p.v[i] = o.beta2 * p.v[i] + (1 - o.beta2) * g * g;
      if (p.decay) p.w[i] *= 1 - lr * o.weightDecay;
      const mHat = p.m[i] / (1 - o.beta1 ** t);
      const vHat = p.v[i] / (1 - o.beta2 ** t);
      p.w[i] -= (lr * mHat) / (Math.sqrt(vHat) + o.eps);
    }
  });
}

interface Opts {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  maxGradNorm?: number;
}

const shapes: [string, number[]][] = [
  ["a.weight", [67, 33]],
  ["a.bias", [33]],
  ["b.weight", [3, 5]],
  ["b.gamma", [1]],
];

async function runAdamW(opts: Required<Opts>, gradScale: number[]) {
  const gpu = await testGpu();
  const rng = new Rng(11);
  const ps = new ParameterStore(gpu);
  const ref: RefParam[] = shapes.map(([name, shape]) => {
    const w = rng.uniformArray(
      shape.reduce((a, b) => a * b, 1),
      -1,
      1,
    );
    ps.create(name, shape, w);
    return {
      w: Float64Array.from(w),
      m: new Float64Array(w.length),
      v: new Float64Array(w.length),
      decay: shape.length >= 2,
    };
  });
  const opt = new AdamW(ps, opts);
  const lrs = [1e-2, 5e-3, 2e-3];
  for (let step = 0; step < gradScale.length; step++) {
    const grads = ref.map((p) => Float32Array.from(p.w, () => rng.normal() * gradScale[step]));
    if (gradScale[step] === Number.POSITIVE_INFINITY) grads[1][0] = Number.NaN;
    tidy(() => {
      opt.setGrads(grads.map((g, i) => Tensor.from(gpu, g, shapes[i][1])));
      opt.step(lrs[step]);
    });
    refStep(
      ref,
      grads.map((g) => Float64Array.from(g)),
      opt.t,
      lrs[step],
      opts,
    );
  }
  const got = await Promise.all(ps.tensors.map((t) => t.read()));
  const norm = await opt.lastGradNorm();
  opt.dispose();
  ps.dispose();
  return { got, ref, norm };
}

const defaults: Required<Opts> = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, maxGradNorm: 0 };

describe("AdamW", () => {
  it("matches the float64 reference over 3 steps, decaying matrices only", async () => {
    const { got, ref } = await runAdamW(defaults, [1, 1, 1]);
    got.forEach((g, j) => {
      for (let i = 0; i < g.length; i++) expect(Math.abs(g[i] - ref[j].w[i])).toBeLessThan(2e-6);
    });
  });

  it("clips the global gradient norm", async () => {
    const { got, ref, norm } = await runAdamW({ ...defaults, maxGradNorm: 0.5, beta1: 0, beta2: 0 }, [3, 3]);
    expect(norm).toBeGreaterThan(0.5);
    got.forEach((g, j) => {
      for (let i = 0; i < g.length; i++) expect(Math.abs(g[i] - ref[j].w[i])).toBeLessThan(2e-6);
    });
  });

  it("skips a step whose gradients contain NaN and reports a non-finite norm", async () => {
    const { got, ref, norm } = await runAdamW(defaults, [1, Number.POSITIVE_INFINITY]);
    expect(Number.isFinite(norm)).toBe(false);
    got.forEach((g, j) => {
      for (let i = 0; i < g.length; i++) expect(Math.abs(g[i] - ref[j].w[i])).toBeLessThan(2e-6);
    });
  });
});

describe("EmaTeacher", () => {
  it("starts as a copy and moves towards the student over a chosen range", async () => {
    const gpu = await testGpu();
    const ps = new ParameterStore(gpu);
    const a = ps.create("backbone.w", [3, 5], new Float32Array(15).fill(1));
    const h1 = ps.create("head.w", [4, 4], new Float32Array(16).fill(2));
    const h2 = ps.create("head.b", [4], new Float32Array(4).fill(3));
    const ema = new EmaTeacher(ps);
    tidy(() => {
      for (const t of [a, h1, h2]) t.assign(Tensor.from(gpu, new Float32Array(t.size).fill(10), t.shape));
    });
    ema.update(0.9, [h1, h2]);
    expect([...(await ema.get("backbone.w").read())].every((x) => x === 1)).toBe(true);
    const head = await ema.get("head.w").read();
    expect(Math.abs(head[0] - (0.9 * 2 + 0.1 * 10))).toBeLessThan(1e-6);
    expect(Math.abs((await ema.get("head.b").read())[3] - (0.9 * 3 + 0.1 * 10))).toBeLessThan(1e-6);
    ema.update(0.5);
    expect(Math.abs((await ema.get("backbone.w").read())[14] - 5.5)).toBeLessThan(1e-6);
    expect(() => ema.get("nope")).toThrow(/no parameter named nope/);
    ema.dispose();
    ps.dispose();
  });
});
