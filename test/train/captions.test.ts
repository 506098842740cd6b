// The caption recipes of Table 1 that share one CLS: "multi" (both captions positives of CLS#1)
// and "sample" (one caption drawn per image and step for the web term), against "dual".
import { beforeAll, describe, expect, it } from "vitest";
import { type Example, ScenesSource } from "../../src/data/examples";
import { describeScene } from "../../src/data/scenes/scene";
import { Vocabulary } from "../../src/data/text/vocab";
import type { Gpu } from "../../src/gpu/gpu";
import { preset } from "../../src/tips/config";
import type { LossWeights } from "../../src/tips/loss";
import { type CaptionRecipe, type LossValues, Trainer, trainerOptions } from "../../src/train/trainer";
import { testGpu } from "../helpers/gpu";

const config = preset("tips-test");
const BATCH = 4;
const CLIP_ONLY = { dino: 0, mim: 0, sparc: 0, rils: 0 };

describe("caption recipes (tips-test)", () => {
  let gpu: Gpu;
  let vocab: Vocabulary;
  let examples: Example[];

  beforeAll(async () => {
    gpu = await testGpu();
    examples = await new ScenesSource({ size: 24 }).next(BATCH);
    const captions = Array.from({ length: 50 }, (_, i) => describeScene(i, { split: "train" }));
    vocab = Vocabulary.build(
      captions.flatMap((d) => [d.webCaption, d.syntheticCaption]),
      config.text.vocabSize,
    );
  });

  /** The first step's loss terms; the same seed gives the same model, crops and masks. */
  async function firstStep(
    captions: CaptionRecipe,
    web: number,
    syn: number,
    batch: Example[],
  ): Promise<LossValues> {
    const weights: LossWeights = { web, syn, ...CLIP_ONLY };
    const trainer = new Trainer(
      gpu,
      trainerOptions(config, { batch: BATCH, seed: 5, weights, captions }),
      vocab,
    );
    try {
      return (await trainer.trainStep(batch)).loss;
    } finally {
      trainer.dispose();
    }
  }

  const synAsWeb = () => examples.map((e) => ({ ...e, syntheticCaption: e.webCaption }));

  it("multi: the synthetic term reads CLS#1, so with equal captions it equals the web term", async () => {
    const multi = await firstStep("multi", 1, 1, synAsWeb());
    expect(multi.syn).toBeCloseTo(multi.web as number, 5);
    // The dual embedding contrasts the same captions with CLS#2: another value.
    const dual = await firstStep("dual", 1, 1, synAsWeb());
    expect(Math.abs((dual.syn as number) - (dual.web as number))).toBeGreaterThan(1e-4);
  }, 600_000);

  it("sample: the web term reads a synthetic caption for some images, and only the captions differ", async () => {
    const dual = await firstStep("dual", 1, 0, examples);
    const sampled = await firstStep("sample", 1, 0, examples);
    expect(Math.abs((sampled.web as number) - (dual.web as number))).toBeGreaterThan(1e-4);
    const sameCaptions = await firstStep("sample", 1, 0, synAsWeb());
    expect(sameCaptions.web).toBeCloseTo(dual.web as number, 5);
  }, 600_000);

  it("refuses a sample recipe with a synthetic term, or an unknown recipe, saying what to set", () => {
    const weights = { web: 1, syn: 1, ...CLIP_ONLY };
    expect(
      () => new Trainer(gpu, trainerOptions(config, { batch: BATCH, weights, captions: "sample" }), vocab),
    ).toThrow(/"sample" caption recipe .* set the web weight above 0 and the syn weight to 0/);
    const bad = trainerOptions(config, { batch: BATCH, captions: "both" as CaptionRecipe });
    expect(() => new Trainer(gpu, bad, vocab)).toThrow(
      /captions must be one of dual, sample, multi, got "both"/,
    );
  });
});
