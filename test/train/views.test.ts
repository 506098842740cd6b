// The CPU side of a batch: which images are masked, and the patch weights of MIM and RILS drawn
// with the masks.
import { expect, it } from "vitest";
import type { Example } from "../../src/data/examples";
import { Rng } from "../../src/tensor/rng";
import { preset } from "../../src/tips/config";
import { DEFAULT_VIEWS, planViews, sampleCaptions } from "../../src/train/views";

const config = preset("tips-test");
const n = (config.vision.imageSize / config.vision.patchSize) ** 2;
const examples: Example[] = Array.from({ length: 5 }, (_, i) => ({
  key: String(i),
  image: { width: 24, height: 20, data: new Uint8Array(24 * 20 * 4) },
  webCaption: "a",
  syntheticCaption: "a",
}));

it("weights RILS by the mean over each image's masked patches, whether MIM covers all patches or not", () => {
  for (const mimAllPatches of [false, true]) {
    const plan = planViews(examples, config, new Rng(3), {
      ...DEFAULT_VIEWS,
      mimAllPatches,
      maskProbability: 1,
    });
    for (let b = 0; b < examples.length; b++) {
      const masks = plan.masks.subarray(b * n, (b + 1) * n);
      const weights = plan.maskedWeights.subarray(b * n, (b + 1) * n);
      const count = masks.reduce((a, v) => a + v, 0);
      expect(count).toBeGreaterThan(0);
      for (let t = 0; t < n; t++) expect(weights[t]).toBeCloseTo(masks[t] / count / examples.length, 7);
      const mim = plan.mimWeights.subarray(b * n, (b + 1) * n);
      if (mimAllPatches) expect([...new Set(mim)]).toEqual([Math.fround(1 / (n * examples.length))]);
      else expect(mim).toEqual(weights);
    }
  }
});

it("samples each image's caption anew per draw, web or synthetic about half the time", () => {
  const many: Example[] = Array.from({ length: 400 }, (_, i) => ({
    key: String(i),
    image: examples[0].image,
    webCaption: `web ${i}`,
    syntheticCaption: `syn ${i}`,
  }));
  const first = sampleCaptions(many, new Rng(1));
  expect(sampleCaptions(many, new Rng(1))).toEqual(first);
  first.forEach((e, i) => {
    expect([`web ${i}`, `syn ${i}`]).toContain(e.webCaption);
    expect(e.syntheticCaption).toBe(`syn ${i}`);
  });
  const synthetic = first.filter((e) => e.webCaption.startsWith("syn")).length;
  expect(synthetic).toBeGreaterThan(160);
  expect(synthetic).toBeLessThan(240);
  expect(sampleCaptions(many, new Rng(2))).not.toEqual(first);
});

it("masks half of the images, rounded up, as iBOT and DINOv2 do (mask probability 0.5), a different half each draw", () => {
  const rng = new Rng(5);
  const maskedSets = new Set<string>();
  for (let draw = 0; draw < 8; draw++) {
    const plan = planViews(examples, config, rng, DEFAULT_VIEWS);
    const masked: number[] = [];
    for (let b = 0; b < examples.length; b++) {
      const count = plan.masks.subarray(b * n, (b + 1) * n).reduce((a, v) => a + v, 0);
      const weight = plan.mimWeights.subarray(b * n, (b + 1) * n).reduce((a, v) => a + v, 0);
      if (count > 0) masked.push(b);
      else expect(weight).toBe(0);
    }
    expect(masked.length).toBe(3);
    maskedSets.add(masked.join());
  }
  expect(maskedSets.size).toBeGreaterThan(1);
});
