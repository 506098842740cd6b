// AdamW and the EMA teacher against float64 references.
import { describe, expect, it } from "vitest";
import { ParameterStore } from "../../src/tensor/params";
import { Rng } from "../../src/tensor/rng";
import { tidy } from "../../src/tensor/scope";
import { Tensor } from "../../src/tensor/tensor";
import { EmaTeacher } from "../../src/tips/ema";
import { AdamW } from "../../src/train/adamw";
import { testGpu } from "../helpers/gpu";

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
  it("starts as a copy of its run of the student and moves towards it", async () => {
    const gpu = await testGpu();
    const student = new ParameterStore(gpu);
    student.create("backbone.w", [3, 5], new Float32Array(15).fill(1));
    student.create("head.w", [4, 4], new Float32Array(16).fill(2));
    student.create("head.b", [4], new Float32Array(4).fill(3));
    student.create("text.w", [2], new Float32Array(2).fill(4));
    // Head-only teacher (TIPSv2): the heads' run of the student, created in the same order.
    const heads = new ParameterStore(gpu);
    heads.create("head.w", [4, 4], new Float32Array(16));
    heads.create("head.b", [4], new Float32Array(4));
    const ema = new EmaTeacher(heads, student);
    expect((await heads.get("head.b").read())[0]).toBe(3);
    tidy(() => {
      for (const t of student.tensors) t.assign(Tensor.from(gpu, new Float32Array(t.size).fill(10), t.shape));
    });
    ema.update(0.9);
    expect(Math.abs((await heads.get("head.w").read())[15] - (0.9 * 2 + 0.1 * 10))).toBeLessThan(1e-6);
    expect(Math.abs((await heads.get("head.b").read())[3] - (0.9 * 3 + 0.1 * 10))).toBeLessThan(1e-6);
    heads.dispose();
    student.dispose();
  });

  it("refuses a teacher whose layout does not match the student's", async () => {
    const gpu = await testGpu();
    const student = new ParameterStore(gpu);
    student.create("a", [3], [1, 2, 3]);
    student.create("b", [2], [1, 2]);
    const wrongOrder = new ParameterStore(gpu);
    wrongOrder.create("b", [2], [0, 0]);
    wrongOrder.create("a", [3], [0, 0, 0]);
    expect(() => new EmaTeacher(wrongOrder, student)).toThrow(/does not line up/);
    wrongOrder.dispose();
    student.dispose();
  });
});
