// The evaluation metrics on data whose answer is known: perfect predictions, chance levels,
// hand-computed cases, and how ties and votes are decided.
import { describe, expect, it } from "vitest";
import {
  cosineSimilarity,
  knnClassify,
  majorityBaseline,
  meanIoU,
  randomGuessMIoU,
  recallAt1,
  rmse,
  top1Accuracy,
  zeroShotClassify,
} from "../../src/eval/metrics";
import { Rng } from "../../src/tensor/rng";

function gaussian(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** n points per class around well-separated centres (class c at 10 * e_c), unit noise. */
function clusters(rng: Rng, classes: number, perClass: number, dim: number) {
  const x = new Float32Array(classes * perClass * dim);
  const y = new Int32Array(classes * perClass);
  for (let c = 0; c < classes; c++) {
    for (let i = 0; i < perClass; i++) {
      const r = c * perClass + i;
      y[r] = c;
      for (let j = 0; j < dim; j++) x[r * dim + j] = (j === c ? 10 : 0) + rng.normal();
    }
  }
  return { x, y };
}

describe("meanIoU", () => {
  it("is 1 for a perfect prediction and ignores classes in neither map", () => {
    const truth = [0, 0, 1, 1, 3, 3, 3];
    const r = meanIoU(truth, truth, 5);
    expect(r.mIoU).toBe(1);
    expect(r.perClass).toEqual([1, 1, null, 1, null]);
  });

  it("counts intersection and union over the whole dataset", () => {
    // class 0: I = 2, U = 3 + 3 - 2 = 4; class 1: I = 1, U = 3 + 2 - 1 = 4; class 2: only predicted, IoU 0.
    const truth = [0, 0, 0, 1, 1, 1];
    const pred = [0, 0, 1, 1, 0, 2];
    const r = meanIoU(pred, truth, 3);
    expect(r.perClass[0]).toBeCloseTo(2 / 4, 12);
    expect(r.perClass[1]).toBeCloseTo(1 / 4, 12);
    expect(r.perClass[2]).toBe(0);
    expect(r.mIoU).toBeCloseTo((1 / 2 + 1 / 4 + 0) / 3, 12);
  });

  it("skips pixels labelled `ignore`", () => {
    expect(meanIoU([0, 1, 1], [0, 1, 255], 2, 255).mIoU).toBe(1);
  });

  it("is near 1 / (2C - 1) for uniform random labels against balanced truth", () => {
    const classes = 5;
    const rng = new Rng(1);
    const n = 200_000;
    const truth = Int32Array.from({ length: n }, () => rng.int(classes));
    const pred = Int32Array.from({ length: n }, () => rng.int(classes));
    const expected = 1 / (2 * classes - 1); // 0.111
    expect(randomGuessMIoU(new Array(classes).fill(1 / classes))).toBeCloseTo(expected, 12);
    const got = meanIoU(pred, truth, classes).mIoU;
    expect(got).toBeGreaterThan(expected - 0.005);
    expect(got).toBeLessThan(expected + 0.005);
  });

  it("matches the random-guess formula for unbalanced truth", () => {
    const rng = new Rng(2);
    const freq = [0.7, 0.2, 0.1];
    const n = 300_000;
    const truth = Int32Array.from({ length: n }, () => {
      const u = rng.uniform();
      return u < 0.7 ? 0 : u < 0.9 ? 1 : 2;
    });
    const pred = Int32Array.from({ length: n }, () => rng.int(3));
    expect(meanIoU(pred, truth, 3).mIoU).toBeCloseTo(randomGuessMIoU(freq), 2);
  });
});

describe("rmse, top-1 and the majority baseline", () => {
  it("computes known values", () => {
    expect(rmse([1, 2, 3], [1, 2, 5])).toBeCloseTo(Math.sqrt(4 / 3), 12);
    expect(rmse([0.5, 0.5], [0.5, 0.5])).toBe(0);
    expect(top1Accuracy([1, 2, 3, 4], [1, 2, 0, 4])).toBe(0.75);
    expect(majorityBaseline([2, 2, 1], [2, 1, 2, 0])).toBe(0.5);
  });
});

describe("knnClassify", () => {
  it("classifies separable clusters perfectly with either vote", () => {
    const rng = new Rng(3);
    const train = clusters(rng, 4, 20, 8);
    const test = clusters(rng, 4, 10, 8);
    for (const vote of ["weighted", "majority"] as const) {
      const pred = knnClassify(train.x, train.y, test.x, 8, { k: 5, vote });
      expect(top1Accuracy(pred, test.y)).toBe(1);
    }
  });

  it("weights votes by exp(cos / 0.07) as DINO does, or counts them", () => {
    // Query (1, 0): one neighbour of label 0 at cos 1, two of label 1 at cos 0.8.
    const train = [1, 0, 0.8, 0.6, 0.8, -0.6];
    const labels = [0, 1, 1];
    expect(knnClassify(train, labels, [1, 0], 2, { k: 3, vote: "weighted" })[0]).toBe(0);
    expect(knnClassify(train, labels, [1, 0], 2, { k: 3, vote: "majority" })[0]).toBe(1);
    // k = 1 is the nearest neighbour whatever the vote.
    expect(knnClassify(train, labels, [0.8, -0.6], 2, { k: 1 })[0]).toBe(1);
  });

  it("is near chance on random features", () => {
    const rng = new Rng(4);
    const classes = 4;
    const pred = knnClassify(
      gaussian(rng, 400 * 16),
      Int32Array.from({ length: 400 }, () => rng.int(classes)),
      gaussian(rng, 2000 * 16),
      16,
      { k: 10 },
    );
    const acc = top1Accuracy(
      pred,
      Int32Array.from({ length: 2000 }, () => rng.int(classes)),
    );
    // Chance 1/4; the standard deviation over 2000 queries is about 0.01.
    expect(acc).toBeGreaterThan(0.21);
    expect(acc).toBeLessThan(0.29);
  });
});

describe("zeroShotClassify", () => {
  it("picks the class text nearest in angle to each image", () => {
    const rng = new Rng(5);
    const dim = 16;
    const texts = gaussian(rng, 6 * dim);
    const labels = Int32Array.from({ length: 30 }, () => rng.int(6));
    // Images: their class text, scaled (cosine ignores length), plus a little noise.
    const images = new Float32Array(30 * dim);
    labels.forEach((c, i) => {
      for (let j = 0; j < dim; j++) images[i * dim + j] = 3 * texts[c * dim + j] + 0.05 * rng.normal();
    });
    expect(top1Accuracy(zeroShotClassify(images, texts, dim), labels)).toBe(1);
  });
});

describe("recallAt1", () => {
  it("is 1 both ways for identical paired embeddings", () => {
    const rng = new Rng(6);
    const x = gaussian(rng, 50 * 32);
    expect(recallAt1(x, x, 32)).toEqual({ imageToText: 1, textToImage: 1 });
  });

  it("is about 1/N when the pairing is shuffled", () => {
    const rng = new Rng(7);
    const n = 20;
    const dim = 16;
    const x = gaussian(rng, n * dim);
    let i2t = 0;
    let t2i = 0;
    const trials = 200;
    for (let t = 0; t < trials; t++) {
      const perm = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [perm[i], perm[j]] = [perm[j], perm[i]];
      }
      const shuffled = new Float32Array(n * dim);
      for (const [i, p] of perm.entries()) shuffled.set(x.subarray(p * dim, (p + 1) * dim), i * dim);
      const r = recallAt1(x, shuffled, dim);
      i2t += r.imageToText / trials;
      t2i += r.textToImage / trials;
    }
    // A random permutation has one fixed point on average: R@1 = 1/N = 0.05, sd 0.0035 here.
    for (const v of [i2t, t2i]) {
      expect(v).toBeGreaterThan(0.035);
      expect(v).toBeLessThan(0.065);
    }
  });

  it("splits ties: duplicate captions score 1 / (number of duplicates)", () => {
    // Three images; texts 0 and 1 are the same caption, text 2 matches image 2.
    const images = [1, 0, 0.9, 0.1, 0, 1];
    const texts = [1, 0, 1, 0, 0, 1];
    const r = recallAt1(images, texts, 2);
    // image 0: texts 0 and 1 tie at the top -> 1/2; image 1: its text ties with text 0 -> 1/2;
    // image 2 -> 1. Text 0 -> image 0 (1); text 1 -> image 0, not image 1 (0); text 2 -> 1.
    expect(r.imageToText).toBeCloseTo(2 / 3, 12);
    expect(r.textToImage).toBeCloseTo(2 / 3, 12);
  });

  it("uses cosine similarity", () => {
    const s = cosineSimilarity([3, 4], [6, 8, -4, 3], 2);
    expect(s[0]).toBeCloseTo(1, 12);
    expect(s[1]).toBeCloseTo(0, 12);
  });
});
