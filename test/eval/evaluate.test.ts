// evaluate() end to end on a tips-test model (random initialisation: no claim about quality, only
// that every number is computed and lies in its valid range), and `tips eval` as a user runs it.
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeScene, SCENES_CLASSES, SHAPES } from "../../src/data/scenes/scene";
import { Vocabulary } from "../../src/data/text/vocab";
import { classPrompt, type EvalResult, evaluate } from "../../src/eval/evaluate";
import { formatEvalTable } from "../../src/eval/report";
import { preset } from "../../src/tips/config";
import { TipsEncoder } from "../../src/tips/encoder";
import { exportWeights } from "../../src/train/checkpoint";
import { Trainer, trainerOptions } from "../../src/train/trainer";
import { testGpu } from "../helpers/gpu";

function expectInRange(results: EvalResult): void {
  const unit = [
    results.segmentation.mIoU,
    results.segmentation.allBackground,
    results.segmentation.chance,
    results.segmentation.oracle,
    results.knn.top1,
    results.knn.majority,
    results.zeroShot.top1,
    results.retrieval.web.imageToText,
    results.retrieval.web.textToImage,
    results.retrieval.synthetic.imageToText,
    results.retrieval.synthetic.textToImage,
  ];
  for (const v of unit) {
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(1);
  }
  for (const v of results.segmentation.perClass) if (v !== null) expect(v).toBeGreaterThanOrEqual(0);
  expect(results.segmentation.perClass).toHaveLength(SCENES_CLASSES.length);
  expect(results.segmentation.perClass[0]).not.toBeNull(); // background is in every image
  for (const v of [
    results.depth.rmse,
    results.depth.meanBaseline,
    results.depth.oracle,
    results.depth.trainLoss,
  ]) {
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeGreaterThanOrEqual(0);
  }
  // Depths lie in [0.5, 1] and below the floor, so any sane prediction is off by less than 1.
  expect(results.depth.rmse).toBeLessThan(1);
  expect(Number.isFinite(results.segmentation.trainLoss)).toBe(true);
  expect(results.knn.chance).toBe(1 / SHAPES.length);
  // A constant per patch cannot beat the true patch means (they minimise each patch's squared error).
  expect(results.depth.rmse).toBeGreaterThanOrEqual(results.depth.oracle - 1e-6);
}

describe("evaluate", () => {
  let dir: string;
  let weights: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tips-eval-"));
    const gpu = await testGpu();
    const config = preset("tips-test");
    const texts = [0, 1, 2, 3].flatMap((i) => {
      const s = describeScene(i, { split: "heldout" });
      return [s.webCaption, s.syntheticCaption];
    });
    const vocab = Vocabulary.build([...texts, ...SHAPES.map(classPrompt)], config.text.vocabSize);
    const trainer = new Trainer(gpu, trainerOptions(config, { batch: 2 }), vocab);
    weights = join(dir, "w.safetensors");
    await writeFile(weights, await exportWeights(trainer, vocab));
    trainer.dispose();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("returns finite numbers in their valid ranges for a random tips-test model", async () => {
    const gpu = await testGpu();
    const encoder = TipsEncoder.fromCheckpoint(gpu, new Uint8Array(await readFile(weights)));
    const messages: string[] = [];
    const r = await evaluate(encoder, {
      train: 4,
      test: 3,
      probe: { steps: 8 },
      k: 3,
      onProgress: (m) => messages.push(m),
    });
    encoder.dispose();
    expect(r.setup).toMatchObject({ train: 4, test: 3, size: 16, patch: 4, grid: [4, 4], k: 3 });
    expect(r.retrieval.chance).toBeCloseTo(1 / 3, 12);
    expectInRange(r);
    expect(messages.some((m) => m.includes("segmentation probe"))).toBe(true);
    const table = formatEvalTable(r);
    expect(table).toContain("segmentation mIoU");
    expect(table).toContain("synthetic captions, CLS#2: text->image R@1");
  }, 300_000);

  it("runs as `tips eval` and writes the numbers as JSON", async () => {
    const json = join(dir, "eval.json");
    const args = ["eval", "--checkpoint", weights, "--train", "3", "--test", "2", "--probe-steps", "4"];
    const r = spawnSync(process.execPath, ["bin/tips.mjs", ...args, "--k", "2", "--json", json], {
      encoding: "utf8",
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("kNN top-1, CLS#1 (k=2, weighted)");
    const saved = JSON.parse(await readFile(json, "utf8")) as EvalResult;
    expect(saved.setup.test).toBe(2);
    expectInRange(saved);

    const bad = spawnSync(
      process.execPath,
      ["bin/tips.mjs", "eval", "--checkpoint", weights, "--size", "18"],
      {
        encoding: "utf8",
      },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("not a multiple of the patch size 4");
  }, 300_000);
});
