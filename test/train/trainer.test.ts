// The training loop on tips-test in Node: exact resume from a checkpoint, the NaN guard,
// checkpoint files that cannot be resumed, and the optional SPARC and RILS terms' options in
// checkpoints (older files without them still load).
import { beforeAll, describe, expect, it } from "vitest";
import { ScenesSource } from "../../src/data/examples";
import { describeScene } from "../../src/data/scenes/scene";
import { Vocabulary } from "../../src/data/text/vocab";
import type { Gpu } from "../../src/gpu/gpu";
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from "../../src/tensor/safetensors";
import { preset } from "../../src/tips/config";
import { type Centring, DEFAULT_RILS, DEFAULT_SPARC } from "../../src/tips/loss";
import {
  CheckpointError,
  exportWeights,
  readCheckpoint,
  restoreTrainer,
  saveCheckpoint,
  startFromCheckpoint,
} from "../../src/train/checkpoint";
import { type StepMetrics, Trainer, trainerOptions } from "../../src/train/trainer";
import { testGpu } from "../helpers/gpu";

const config = preset("tips-test");
const BATCH = 4;

function scenesVocabulary(): Vocabulary {
  const captions: string[] = [];
  for (let i = 0; i < 300; i++) {
    const d = describeScene(i, { split: "train" });
    captions.push(d.webCaption, d.syntheticCaption);
  }
  return Vocabulary.build(captions, config.text.vocabSize);
}

const options = (centring: Centring = "sinkhorn") =>
  trainerOptions(config, { batch: BATCH, steps: 4, lr: 3e-3, seed: 9, centring });

async function run(trainer: Trainer, source: ScenesSource, steps: number): Promise<StepMetrics[]> {
  const pending: Promise<StepMetrics>[] = [];
  for (let s = 0; s < steps; s++) pending.push(trainer.trainStep(await source.next(BATCH)));
  return Promise.all(pending);
}

async function allValues(trainer: Trainer): Promise<Float32Array[]> {
  const stores = [trainer.model.params, trainer.model.teacher.params];
  const out: Float32Array[] = [];
  for (const store of stores) for (const t of store.tensors) out.push((await t.read()) as Float32Array);
  out.push((await trainer.model.dinoCentre.read()) as Float32Array);
  return out;
}

describe("Trainer (tips-test)", () => {
  let gpu: Gpu;
  let vocab: Vocabulary;

  beforeAll(async () => {
    gpu = await testGpu();
    vocab = scenesVocabulary();
  });

  // With the running centre, the centres are part of the state that must come back.
  it.each(["sinkhorn", "centre"] as const)(
    "continues exactly from a checkpoint (%s targets): 4 steps straight = 2 steps, save, load, 2 steps",
    async (centring) => {
      const straight = new Trainer(gpu, options(centring), vocab);
      const straightMetrics = await run(straight, new ScenesSource({ size: 24 }), 4);
      const want = await allValues(straight);
      straight.dispose();

      const first = new Trainer(gpu, options(centring), vocab);
      const source = new ScenesSource({ size: 24 });
      await run(first, source, 2);
      const bytes = await saveCheckpoint(first, source.position(), vocab);
      first.dispose();

      const restored = restoreTrainer(gpu, bytes, (json) => Vocabulary.fromJSON(json));
      expect(restored.trainer.step).toBe(2);
      expect(restored.source).toEqual({ kind: "scenes", next: 2 * BATCH });
      const resumedSource = new ScenesSource({ size: 24, position: restored.source ?? undefined });
      const resumedMetrics = await run(restored.trainer, resumedSource, 2);
      const got = await allValues(restored.trainer);
      restored.trainer.dispose();

      expect(resumedMetrics.map((m) => m.loss)).toEqual(straightMetrics.slice(2).map((m) => m.loss));
      expect(got.length).toBe(want.length);
      for (const [i, values] of got.entries()) expect(values).toEqual(want[i]);
    },
    600_000, // 10 steps, the first ones compiling the kernels: over 2 minutes on a busy 2-core machine
  );

  it("reports every loss term, the learning rate and the gradient norm of each step", async () => {
    const trainer = new Trainer(gpu, options(), vocab);
    const [m] = await run(trainer, new ScenesSource({ size: 24 }), 1);
    trainer.dispose();
    expect(m.step).toBe(0);
    for (const term of ["web", "syn", "dino", "mim"] as const) expect(m.loss[term]).toBeGreaterThan(0);
    const sum = (m.loss.web ?? 0) + (m.loss.syn ?? 0) + (m.loss.dino ?? 0) + (m.loss.mim ?? 0);
    expect(m.loss.total).toBeCloseTo(sum, 4);
    expect(m.gradNorm).toBeGreaterThan(0);
    expect(m.skipped).toBe(false);
    expect(m.lr).toBeGreaterThan(0);
  });

  it("skips a step whose gradients are not finite, leaves the student untouched, and says so", async () => {
    const trainer = new Trainer(gpu, options(), vocab);
    // A logit scale of e^1000 overflows the CLIP logits: the loss and its gradients become NaN.
    trainer.model.params.load("logit_scale", [1], [1000]);
    const before = (await trainer.model.params.get("blocks.0.attn.qkv.weight").read()) as Float32Array;
    const [m] = await run(trainer, new ScenesSource({ size: 24 }), 1);
    const after = (await trainer.model.params.get("blocks.0.attn.qkv.weight").read()) as Float32Array;
    trainer.dispose();
    expect(m.skipped).toBe(true);
    expect(Number.isFinite(m.gradNorm)).toBe(false);
    expect(after).toEqual(before);
  });

  it("refuses files it cannot resume, saying why, and changes nothing", async () => {
    const trainer = new Trainer(gpu, options(), vocab);
    const bytes = await saveCheckpoint(trainer, null, vocab);
    const weights = await exportWeights(trainer, vocab);
    trainer.dispose();
    const fromJSON = (json: unknown) => Vocabulary.fromJSON(json);

    expect(() => restoreTrainer(gpu, bytes.slice(0, bytes.length - 10), fromJSON)).toThrow(SafetensorsError);
    expect(() => restoreTrainer(gpu, weights, fromJSON)).toThrow(/exported weights only/);
    expect(() => restoreTrainer(gpu, new Uint8Array(16), fromJSON)).toThrow(SafetensorsError);
    const info = readCheckpoint(bytes).info;
    expect(info.config).toEqual(config);
    expect(info.state.step).toBe(0);

    // A header that does not match the tensors (another model's prototypes): named, refused.
    const other = new Trainer(
      gpu,
      trainerOptions({ ...config, head: { ...config.head, prototypes: 40 } }, { batch: BATCH }),
      vocab,
    );
    const otherBytes = await saveCheckpoint(other, null, vocab);
    other.dispose();
    const decoded = decodeSafetensors(otherBytes);
    const mixed = encodeSafetensors(Object.fromEntries(decoded.tensors), {
      ...decoded.metadata,
      config: JSON.stringify(config),
    });
    expect(() => restoreTrainer(gpu, mixed, fromJSON)).toThrow(CheckpointError);
    expect(() => restoreTrainer(gpu, mixed, fromJSON)).toThrow(/dino_head\.last_layer\.weight/);
    const noConfig = encodeSafetensors(Object.fromEntries(decoded.tensors), {
      ...decoded.metadata,
      config: "7",
    });
    expect(() => restoreTrainer(gpu, noConfig, fromJSON)).toThrow(
      /"config" or "options" entry is not an object/,
    );
  });

  it("moves the EMA teacher to m * teacher0 + (1 - m) * student1 in one step", async () => {
    // A momentum far from 1, so that the inverted update, (1 - m) teacher + m student, is far off.
    const o = options();
    const trainer = new Trainer(gpu, { ...o, schedule: { ...o.schedule, momentum: [0.7, 0.7] } }, vocab);
    const teacherStore = trainer.model.teacher.params;
    const teacher0 = await Promise.all(teacherStore.tensors.map((t) => t.read()));
    const [m] = await run(trainer, new ScenesSource({ size: 24 }), 1);
    expect(m.momentum).toBe(0.7);
    let worst = 0;
    let moved = 0;
    for (const [i, t] of teacherStore.tensors.entries()) {
      const teacher1 = await t.read();
      const student1 = await trainer.model.params.get(t.name!).read();
      for (let j = 0; j < teacher1.length; j++) {
        const want = m.momentum * teacher0[i][j] + (1 - m.momentum) * student1[j];
        worst = Math.max(worst, Math.abs(teacher1[j] - want));
        moved = Math.max(moved, Math.abs(student1[j] - teacher0[i][j]));
      }
    }
    trainer.dispose();
    expect(moved).toBeGreaterThan(1e-3);
    expect(worst).toBeLessThan(1e-6);
  });

  it("clamps the logit scale at 100 after an update, as CLIP does", async () => {
    const trainer = new Trainer(gpu, options(), vocab);
    trainer.model.params.load("logit_scale", [1], [Math.log(400)]);
    const [m] = await run(trainer, new ScenesSource({ size: 24 }), 1);
    const [logScale] = await trainer.model.logitScale.read();
    trainer.dispose();
    expect(m.skipped).toBe(false);
    expect(logScale).toBeCloseTo(Math.log(100), 6);
  });

  it("reads checkpoints made before the centring, initStd, captions and mask-probability settings with the behaviour they had", async () => {
    const trainer = new Trainer(gpu, options(), vocab);
    const decoded = decodeSafetensors(await saveCheckpoint(trainer, null, vocab));
    trainer.dispose();
    const { centring: _, captions: __, ...oldOptions } = JSON.parse(decoded.metadata.options);
    delete oldOptions.views.maskProbability;
    const oldConfig = JSON.parse(decoded.metadata.config);
    delete oldConfig.vision.initStd;
    const old = encodeSafetensors(Object.fromEntries(decoded.tensors), {
      ...decoded.metadata,
      options: JSON.stringify(oldOptions),
      config: JSON.stringify(oldConfig),
    });
    const info = readCheckpoint(old).info;
    expect(info.options.centring).toBe("centre");
    expect(info.options.captions).toBe("dual");
    expect(info.options.views.maskProbability).toBe(1);
    expect(info.config.vision.initStd).toBe(0.02);
  });

  it("reports SPARC and RILS when weighted, keeps their options in a checkpoint, and loads older files", async () => {
    const fine = trainerOptions(config, {
      batch: BATCH,
      steps: 4,
      seed: 9,
      weights: { web: 1, syn: 0, dino: 0, mim: 0, sparc: 0.5, rils: 2 },
      sparc: { caption: "web", temperature: 0.2 },
      rils: { caption: "syn", tauStudent: 0.2, tauTeacher: 0.1 },
    });
    const trainer = new Trainer(gpu, fine, vocab);
    const [m] = await run(trainer, new ScenesSource({ size: 24 }), 1);
    expect(m.loss.syn).toBeNull();
    expect(m.loss.sparc).toBeGreaterThan(0);
    expect(m.loss.rils).toBeGreaterThan(0);
    expect(m.loss.total).toBeCloseTo(
      (m.loss.web ?? 0) + 0.5 * (m.loss.sparc ?? 0) + 2 * (m.loss.rils ?? 0),
      4,
    );
    const bytes = await saveCheckpoint(trainer, null, vocab);
    trainer.dispose();
    const fromJSON = (json: unknown) => Vocabulary.fromJSON(json);
    const restored = restoreTrainer(gpu, bytes, fromJSON);
    const { config: _, ...saved } = fine;
    expect(restored.info.options).toEqual(saved);
    expect(restored.trainer.options.sparc).toEqual(fine.sparc);
    restored.trainer.dispose();

    // A checkpoint written before the terms existed: no sparc/rils weights or options.
    const plain = new Trainer(gpu, options(), vocab);
    const decoded = decodeSafetensors(await saveCheckpoint(plain, null, vocab));
    plain.dispose();
    const old = JSON.parse(decoded.metadata.options);
    delete old.weights.sparc;
    delete old.weights.rils;
    delete old.sparc;
    delete old.rils;
    const oldBytes = encodeSafetensors(Object.fromEntries(decoded.tensors), {
      ...decoded.metadata,
      options: JSON.stringify(old),
    });
    const loaded = restoreTrainer(gpu, oldBytes, fromJSON);
    expect(loaded.trainer.options.weights).toEqual({ web: 1, syn: 1, dino: 1, mim: 1, sparc: 0, rils: 0 });
    expect(loaded.trainer.options.sparc).toEqual(DEFAULT_SPARC);
    expect(loaded.trainer.options.rils).toEqual(DEFAULT_RILS);
    const [next] = await run(loaded.trainer, new ScenesSource({ size: 24 }), 1);
    loaded.trainer.dispose();
    expect(next.loss.sparc).toBeNull();
    expect(next.loss.rils).toBeNull();
    expect(next.skipped).toBe(false);
  });

  it("starts a new run from a checkpoint's model, with new options and a fresh optimiser", async () => {
    const fromJSON = (json: unknown) => Vocabulary.fromJSON(json);
    // A head-only teacher: a full teacher started from it takes the student's encoder.
    const first = new Trainer(gpu, { ...options(), teacher: "heads" }, vocab);
    await run(first, new ScenesSource({ size: 24 }), 2);
    const bytes = await saveCheckpoint(first, { kind: "scenes", next: 8 }, vocab);
    const student = first.model.params.tensors.map((t) => t.read());
    const teacherHead = await first.model.teacher.params.get("dino_head.last_layer.weight").read();
    const exported = await exportWeights(first, vocab);
    first.dispose();

    const weights = { web: 1, syn: 1, dino: 0, mim: 0, sparc: 1, rils: 1 };
    const { trainer, info } = startFromCheckpoint(gpu, bytes, fromJSON, {
      batch: BATCH,
      steps: 3,
      lr: 1e-3,
      seed: 4,
      weights,
      teacher: "full",
    });
    expect(info.state.step).toBe(2);
    expect(trainer.step).toBe(0);
    expect(trainer.optimizer.t).toBe(0);
    expect(trainer.options.weights).toEqual(weights);
    expect(trainer.options.centring).toBe("sinkhorn");
    const m = (await trainer.optimizer.m.flat().read()) as Float32Array;
    expect(m.every((x) => x === 0)).toBe(true);
    for (const [i, t] of trainer.model.params.tensors.entries())
      expect(await t.read()).toEqual(await student[i]);
    const teacher = trainer.model.teacher.params;
    expect(await teacher.get("dino_head.last_layer.weight").read()).toEqual(teacherHead);
    expect(await teacher.get("blocks.0.attn.qkv.weight").read()).toEqual(
      await trainer.model.params.get("blocks.0.attn.qkv.weight").read(),
    );
    const [step] = await run(trainer, new ScenesSource({ size: 24 }), 1);
    trainer.dispose();
    expect(step.skipped).toBe(false);
    expect(step.loss.sparc).toBeGreaterThan(0);
    expect(step.loss.rils).toBeGreaterThan(0);
    expect(() => startFromCheckpoint(gpu, exported, fromJSON, {})).toThrow(/exported weights only/);
  });

  it("explains bad SPARC and RILS options", () => {
    const bad = (o: Partial<Parameters<typeof trainerOptions>[1]>) => () =>
      new Trainer(gpu, trainerOptions(config, { batch: BATCH, ...o }), vocab);
    const only = (w: { sparc?: number; rils?: number }) => ({
      web: 0,
      syn: 0,
      dino: 0,
      mim: 0,
      sparc: 0,
      rils: 0,
      ...w,
    });
    expect(bad({ batch: 1, weights: only({ rils: 1 }) })).toThrow(
      /RILS need at least 2 examples per micro-batch/,
    );
    expect(bad({ sparc: { caption: "alt" as "web", temperature: 0.1 } })).toThrow(
      /sparc caption must be "syn" or "web"/,
    );
    expect(bad({ sparc: { caption: "syn", temperature: 0 } })).toThrow(
      /sparc temperature must be a positive number/,
    );
    expect(bad({ rils: { ...DEFAULT_RILS, tauTeacher: Number.NaN } })).toThrow(/rils teacher temperature/);
  });
});
