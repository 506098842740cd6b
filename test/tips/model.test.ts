// The whole tips-test model on the GPU against the float64 reference in reference.ts: every loss
// term (the four TIPS terms and the optional SPARC and RILS, all switched on), the total, and the
// gradients of sampled parameter entries by central differences.
import { beforeAll, describe, expect, it } from "vitest";
import type { Gpu } from "../../src/gpu/gpu";
import { valueAndGrad } from "../../src/ops/autograd";
import { Rng } from "../../src/tensor/rng";
import { tidy } from "../../src/tensor/scope";
import { Tensor } from "../../src/tensor/tensor";
import { preset } from "../../src/tips/config";
import { DEFAULT_LOSS, type LossOptions, type TipsBatch, tipsLoss } from "../../src/tips/loss";
import { TipsModel } from "../../src/tips/model";
import { captionsBatch } from "../../src/tips/text";
import { testGpu } from "../helpers/gpu";
import { type BatchRef, type FineRef, type Params, textTokensRef, tipsLossRef } from "./reference";

const config = preset("tips-test");
const B = 3;
const ALL_TERMS: LossOptions = {
  ...DEFAULT_LOSS,
  weights: { web: 1, syn: 1, dino: 1, mim: 1, sparc: 1, rils: 1 },
};
const FINE: FineRef = {
  sparcTemperature: ALL_TERMS.sparc.temperature,
  rilsTau: { student: ALL_TERMS.rils.tauStudent, teacher: ALL_TERMS.rils.tauTeacher },
};

/** Random values of every kind of parameter, so no term is near-identity (LayerScale 1e-5 at init). */
function randomize(names: string[], shapes: (readonly number[])[], rng: Rng): Params {
  const p: Params = new Map();
  names.forEach((name, i) => {
    const n = shapes[i].reduce((a, v) => a * v, 1);
    const values = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const z = rng.normal();
      if (
        name.endsWith("norm1.weight") ||
        name.endsWith("norm2.weight") ||
        /ln_\w+\.weight|norm\.weight/.test(name)
      )
        values[j] = 1 + 0.1 * z;
      else if (name === "logit_scale") values[j] = Math.log(10);
      else if (name.endsWith("gamma")) values[j] = 0.5 + 0.1 * z;
      else values[j] = 0.3 * z;
    }
    // f32 values, so that the reference computes with exactly what the GPU holds
    p.set(name, Float64Array.from(Float32Array.from(values)));
  });
  return p;
}

function randomIds(rng: Rng, length: number): Int32Array {
  const ids = new Int32Array(B * length);
  for (let b = 0; b < B; b++) {
    const real = 2 + ((b * 3) % (length - 1)); // 2, 5, ... real tokens, then padding
    for (let t = 0; t < real; t++)
      ids[b * length + t] = 2 + Math.floor(rng.uniform() * (config.text.vocabSize - 2));
  }
  return ids;
}

function makeBatch(rng: Rng): BatchRef {
  const s = config.vision.imageSize;
  const ls = config.views.localSize;
  const m = config.views.localCrops;
  const n = (s / config.vision.patchSize) ** 2;
  const masks = new Float64Array(B * n);
  const mimWeights = new Float64Array(B * n);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < n; t++) masks[b * n + t] = rng.uniform() < 0.35 || t === b ? 1 : 0;
    const count = masks.subarray(b * n, (b + 1) * n).reduce((a, v) => a + v, 0);
    for (let t = 0; t < n; t++) mimWeights[b * n + t] = masks[b * n + t] / count / B;
  }
  return {
    b: B,
    global: Float64Array.from(rng.uniformArray(B * 3 * s * s)),
    local: Float64Array.from(rng.uniformArray(m * B * 3 * ls * ls)),
    masks,
    mimWeights: Float64Array.from(Float32Array.from(mimWeights)),
    maskedWeights: Float64Array.from(Float32Array.from(mimWeights)),
    web: randomIds(rng, config.text.maxLength),
    syn: randomIds(rng, config.text.maxLength),
  };
}

function upload(gpu: Gpu, x: BatchRef): TipsBatch {
  const s = config.vision.imageSize;
  const ls = config.views.localSize;
  const n = x.masks.length / B;
  const length = config.text.maxLength;
  return {
    global: Tensor.from(gpu, Float32Array.from(x.global), [B, 3, s, s]),
    local: Tensor.from(gpu, Float32Array.from(x.local), [config.views.localCrops * B, 3, ls, ls]),
    masks: Tensor.from(gpu, Float32Array.from(x.masks), [B, n, 1]),
    mimWeights: Tensor.from(gpu, Float32Array.from(x.mimWeights), [B * n]),
    maskedWeights: Tensor.from(gpu, Float32Array.from(x.maskedWeights), [B * n]),
    captions: captionsBatch(gpu, x.web, x.syn, B, length),
  };
}

function load(model: TipsModel, student: Params, teacher: Params): void {
  for (const t of model.params.tensors) model.params.load(t.name!, t.shape, student.get(t.name!)!);
  for (const t of model.teacher.params.tensors)
    model.teacher.params.load(t.name!, t.shape, teacher.get(t.name!)!);
}

const relative = (got: number, want: number) => Math.abs(got - want) / (1e-6 + Math.abs(want));

describe("TIPS model (tips-test) against the float64 reference", () => {
  let gpu: Gpu;
  const rng = new Rng(11);
  let batchRef: BatchRef;
  let student: Params;

  beforeAll(async () => {
    gpu = await testGpu();
    batchRef = makeBatch(rng);
  });

  const variants = [
    ["full", "sinkhorn"],
    ["heads", "sinkhorn"],
    ["full", "centre"],
  ] as const;
  for (const [teacherKind, centring] of variants) {
    it(`matches every loss term and the total (${teacherKind} EMA teacher, ${centring} targets), relative error < 1e-4`, async () => {
      const model = new TipsModel(gpu, config, { seed: 2, teacher: teacherKind });
      const names = model.params.tensors.map((t) => t.name!);
      student = randomize(
        names,
        model.params.tensors.map((t) => t.shape),
        new Rng(5),
      );
      // The teacher differs from the student, as after some EMA steps; a head-only teacher runs
      // the student's encoder.
      const drift = randomize(
        names,
        model.params.tensors.map((t) => t.shape),
        new Rng(6),
      );
      const teacher: Params = new Map();
      for (const [name, v] of student) {
        const head = name.startsWith("dino_head") || name.startsWith("ibot_head");
        const moved = teacherKind === "full" || head ? v.map((x, i) => x + 0.05 * drift.get(name)![i]) : v;
        teacher.set(name, Float64Array.from(Float32Array.from(moved)));
      }
      load(model, student, teacher);
      const batch = upload(gpu, batchRef);
      const terms = tidy(() => tipsLoss(model, batch, { ...ALL_TERMS, centring }));
      const got = {
        web: (await terms.web!.read())[0],
        syn: (await terms.syn!.read())[0],
        dino: (await terms.dino!.read())[0],
        mim: (await terms.mim!.read())[0],
        sparc: (await terms.sparc!.read())[0],
        rils: (await terms.rils!.read())[0],
        total: (await terms.total.read())[0],
      };
      const want = tipsLossRef(config, student, teacher, batchRef, centring, FINE);
      for (const key of ["web", "syn", "dino", "mim", "sparc", "rils", "total"] as const) {
        expect(relative(got[key], want[key]), `${key}: GPU ${got[key]}, float64 ${want[key]}`).toBeLessThan(
          1e-4,
        );
      }
      model.dispose();
    });
  }

  it("gives parameter gradients that match central differences of the float64 reference", async () => {
    const model = new TipsModel(gpu, config, { seed: 2 });
    const names = model.params.tensors.map((t) => t.name!);
    const shapes = model.params.tensors.map((t) => t.shape);
    student = randomize(names, shapes, new Rng(7));
    const teacher: Params = new Map([...student].map(([k, v]) => [k, v.map((x) => x * 0.97)]));
    load(model, student, teacher);
    const batch = upload(gpu, batchRef);
    const grads = tidy(
      () => valueAndGrad(() => tipsLoss(model, batch, ALL_TERMS).total, model.params.tensors).grads,
    );
    // RILS's teacher side sees the sentence embeddings without gradient: they stay fixed.
    const fine = { ...FINE, rilsTeacherSentences: textTokensRef(config, student, batchRef.syn, B).pooled };
    const checked = [
      "patch_embed.proj.weight",
      "patch_embed.proj.bias",
      "cls_token",
      "register_tokens",
      "pos_embed",
      "mask_token",
      "blocks.0.norm1.weight",
      "blocks.0.attn.qkv.weight",
      "blocks.0.ls1.gamma",
      "blocks.1.mlp.fc1.weight",
      "blocks.1.mlp.fc2.bias",
      "norm.bias",
      "dino_head.mlp.0.weight",
      "dino_head.last_layer.weight",
      "ibot_head.mlp.4.weight",
      "ibot_head.last_layer.weight",
      "token_embedding.weight",
      "transformer.resblocks.0.attn.in_proj_weight",
      "transformer.resblocks.0.mlp.c_fc.bias",
      "ln_final.weight",
      "logit_scale",
    ];
    const pick = new Rng(8);
    const h = 1e-5;
    const failures: string[] = [];
    for (const name of checked) {
      const g = Float32Array.from(await grads[names.indexOf(name)].read());
      const p = student.get(name)!;
      // entries with the largest gradient and one random entry (embedding rows of used ids)
      const largest = g.reduce((best, v, i) => (Math.abs(v) > Math.abs(g[best]) ? i : best), 0);
      for (const i of [largest, Math.floor(pick.uniform() * p.length)]) {
        const keep = p[i];
        p[i] = keep + h;
        const up = tipsLossRef(config, student, teacher, batchRef, "sinkhorn", fine).total;
        p[i] = keep - h;
        const down = tipsLossRef(config, student, teacher, batchRef, "sinkhorn", fine).total;
        p[i] = keep;
        const fd = (up - down) / (2 * h);
        if (Math.abs(g[i] - fd) > 1e-4 + 1e-2 * Math.abs(fd))
          failures.push(`${name}[${i}]: GPU ${g[i]}, finite difference ${fd}`);
      }
    }
    expect(failures).toEqual([]);
    model.dispose();
  });
});
