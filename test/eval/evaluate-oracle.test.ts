// evaluate() with encoders whose features are known: one that encodes the scenes' labels must
// reach the oracle's segmentation and depth scores and perfect kNN and zero-shot; one of random
// features must stay near the featureless baselines, well short of the oracle. Also: each global
// metric reads the CLS it is told to, and a metric with no trained token is left out.
import { beforeAll, describe, expect, it } from "vitest";
import { renderScene, SCENES_CLASSES, type Scene, SHAPES } from "../../src/data/scenes/scene";
import { classPrompt, type EvalOptions, evaluate, type FrozenEncoder } from "../../src/eval/evaluate";
import { mainObjectClass, patchMajority, patchMean } from "../../src/eval/labels";
import { formatEvalTable } from "../../src/eval/report";
import type { Gpu } from "../../src/gpu/gpu";
import { Rng } from "../../src/tensor/rng";
import { preset } from "../../src/tips/config";
import type { ImageFeatures } from "../../src/tips/encoder";
import { testGpu } from "../helpers/gpu";

const config = preset("tips-test"); // patch 4, width 32
const SIZE = 24;
const PATCH = config.vision.patchSize;
const D = config.vision.width;
// 32 training scenes show every class at patch level: a class no training patch has cannot be
// predicted by a probe (its feature is constant), whatever the features.
const OPTIONS: EvalOptions = { train: 32, test: 8, size: SIZE, k: 5, probe: { steps: 100, lr: 0.1 } };

type Features = (scene: Scene) => { patches: Float32Array; cls1: Float32Array; cls2: Float32Array };

/** Unit vector along axis `i` of D dimensions. */
function axis(i: number): Float32Array {
  const v = new Float32Array(D);
  v[i] = 1;
  return v;
}

/** Per patch: its majority class one-hot (11 dimensions) and its mean depth; CLS#1: the main object. */
const labelFeatures =
  (cls2: "labels" | "random"): Features =>
  (scene) => {
    const classes = patchMajority(scene.classMap, SIZE, PATCH, SCENES_CLASSES.length);
    const depth = patchMean(scene.depthMap, SIZE, PATCH);
    const patches = new Float32Array(classes.length * D);
    classes.forEach((c, p) => {
      patches[p * D + c] = 1;
      patches[p * D + SCENES_CLASSES.length] = depth[p];
    });
    const cls1 = axis(mainObjectClass(scene));
    return { patches, cls1, cls2: cls2 === "labels" ? cls1 : randomUnit(new Rng(scene.image[0] + 7)) };
  };

function randomUnit(rng: Rng): Float32Array {
  const v = Float32Array.from({ length: D }, () => rng.normal());
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

const randomFeatures: Features = (scene) => {
  const rng = new Rng(scene.image.reduce((a, v, i) => (a * 31 + v * (i + 1)) >>> 0, 7));
  const patches = Float32Array.from({ length: (SIZE / PATCH) ** 2 * D }, () => rng.normal());
  return { patches, cls1: randomUnit(rng), cls2: randomUnit(rng) };
};

/** A stand-in encoder: it recognises each scene of both splits by its pixels. */
function fakeEncoder(gpu: Gpu, features: Features): FrozenEncoder {
  const scenes = new Map<string, Scene>();
  for (const split of ["train", "heldout"] as const) {
    for (let i = 0; i < 32; i++) {
      const scene = renderScene(i, { size: SIZE, split });
      scenes.set(Buffer.from(scene.image).toString("base64"), scene);
    }
  }
  return {
    gpu,
    visionConfig: config.vision,
    textConfig: config.text,
    embedImages: async (images): Promise<ImageFeatures> => {
      const per = images.map((image) => {
        const scene = scenes.get(Buffer.from(image.data).toString("base64"));
        if (!scene) throw new Error("fakeEncoder: an image that is not one of the scenes");
        return features(scene);
      });
      const join = (key: "patches" | "cls1" | "cls2") => {
        const out = new Float32Array(per.reduce((a, f) => a + f[key].length, 0));
        let at = 0;
        for (const f of per) {
          out.set(f[key], at);
          at += f[key].length;
        }
        return out;
      };
      return {
        patches: join("patches"),
        cls1: join("cls1"),
        cls2: join("cls2"),
        grid: [SIZE / PATCH, SIZE / PATCH],
      };
    },
    // Class prompts along their shape's axis; captions anywhere else.
    embedTexts: async (texts) => {
      const out = new Float32Array(texts.length * D);
      texts.forEach((t, i) => {
        const shape = SHAPES.findIndex((s) => classPrompt(s) === t);
        out.set(shape >= 0 ? axis(shape) : randomUnit(new Rng(i + 1)), i * D);
      });
      return out;
    },
  };
}

describe("evaluate against the oracle", () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });

  it("scores features that encode the labels like the oracle, on the CLS it is told to read", async () => {
    const r = await evaluate(fakeEncoder(gpu, labelFeatures("random")), OPTIONS);
    expect(r.segmentation.mIoU).toBeGreaterThan(r.segmentation.oracle - 0.01);
    expect(r.depth.rmse).toBeLessThan(r.depth.oracle + 0.002);
    expect([r.knn.token, r.knn.top1, r.zeroShot.top1]).toEqual(["cls1", 1, 1]);
    // CLS#2 holds random vectors here: read for kNN and zero-shot, it loses what CLS#1 knows.
    const onCls2 = await evaluate(fakeEncoder(gpu, labelFeatures("random")), {
      ...OPTIONS,
      tokens: { image: "cls2", zeroShot: "cls2", web: "cls2", synthetic: "cls2" },
    });
    expect(onCls2.knn.token).toBe("cls2");
    expect(onCls2.knn.top1).toBeLessThan(0.7);
    expect(onCls2.zeroShot.top1).toBeLessThan(0.7);
    expect(onCls2.depth.globalToken).toBe("cls2");
  }, 600_000);

  it("keeps random features near the baselines, below the oracle, and leaves out untrained tokens", async () => {
    const r = await evaluate(fakeEncoder(gpu, randomFeatures), {
      ...OPTIONS,
      tokens: { image: null, zeroShot: null, web: "cls1", synthetic: null },
    });
    const seg = r.segmentation;
    expect(seg.mIoU).toBeLessThan(seg.oracle - 0.2);
    expect(seg.mIoU).toBeLessThan(seg.allBackground + 0.05);
    expect(r.depth.rmse).toBeGreaterThan(r.depth.oracle + 0.05);
    expect(r.depth.rmse).toBeGreaterThan(0.8 * r.depth.meanBaseline);
    expect(r.depth.globalToken).toBeNull();
    expect(r.knn).toMatchObject({ token: null, top1: null });
    expect(r.zeroShot).toMatchObject({ token: null, top1: null });
    expect(r.retrieval.synthetic).toEqual({ token: null, imageToText: null, textToImage: null });
    expect(r.retrieval.web.token).toBe("cls1");
    const table = formatEvalTable(r);
    expect(table).toMatch(/kNN top-1, no trained CLS \(k=5, weighted\) +- /);
    expect(table).toMatch(/synthetic captions, no trained CLS: text->image R@1 +- /);
    expect(table).toContain("depth RMSE (linear probe on patch only");
    expect(JSON.parse(JSON.stringify(r)).knn.top1).toBeNull();
  }, 600_000);
});
