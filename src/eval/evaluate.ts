// Measures what TIPS claims of its frozen features, at small scale, on the built-in `scenes`
// dataset: dense probes (segmentation mIoU, depth RMSE) fitted on the train split and tested on
// the held-out split, kNN and zero-shot classification of each image's main object, and
// image-text retrieval with web captions (CLS#1) and synthetic captions (CLS#2).
// docs/evaluation.md explains each number and its baseline.
import { renderScene, SCENES_CLASSES, type Scene, type SceneSplit, SHAPES } from "../data/scenes";
import type { TipsEncoder } from "../tips/encoder";
import { mainObjectClass, patchMajority, patchMean, upsampleNearest } from "./labels";
import {
  type KnnOptions,
  knnClassify,
  majorityBaseline,
  meanIoU,
  type Recall,
  randomGuessMIoU,
  recallAt1,
  rmse,
  top1Accuracy,
  zeroShotClassify,
} from "./metrics";
import { LinearClassifier, LinearRegressor, type ProbeOptions } from "./probe";

export interface EvalOptions {
  /** Train-split scenes the probes and kNN are fitted on (default 64). */
  train?: number;
  /** Held-out scenes everything is measured on (default 32). */
  test?: number;
  /** Image side in pixels, a multiple of the patch size (default: the model's image size). */
  size?: number;
  /** Seed of the scenes generator (default 0; the held-out split is fixed for a given seed). */
  dataSeed?: number;
  /** Seed of the probes' initial weights and minibatch order (default 0). */
  seed?: number;
  /** kNN neighbours (default 20) and vote (default "weighted", DINO's, temperature 0.07). */
  k?: number;
  vote?: KnnOptions["vote"];
  /** Linear-probe training (see ProbeOptions; the seed comes from `seed`). */
  probe?: Omit<ProbeOptions, "seed">;
  /** Images per encoder batch (default 16). */
  batch?: number;
  /** Hears what is being done, for progress lines. */
  onProgress?: (message: string) => void;
}

export interface SegmentationResult {
  /** Pixel-level mIoU over the held-out images, background included. */
  mIoU: number;
  /** IoU per class in SCENES_CLASSES order (null: the class is in no test image nor prediction). */
  perClass: (number | null)[];
  classes: string[];
  /** mIoU of labelling every pixel background. */
  allBackground: number;
  /** mIoU expected from uniform random labels, given the test class frequencies. */
  chance: number;
  /**
   * What a perfect patch classifier scores: mIoU of the true patch-majority labels upsampled the
   * same way (patches straddling an edge lose pixels on one side or the other). About the best a
   * per-patch probe can do, though not a strict bound: IoU is not pixel accuracy.
   */
  oracle: number;
  /** Cross-entropy of the probe's last training step (nats). */
  trainLoss: number;
}

export interface DepthResult {
  /** Pixel-level RMSE against depthMap (floor 1 at the top to 0.5 at the bottom, objects nearer). */
  rmse: number;
  /** RMSE of predicting the training patches' mean depth everywhere. */
  meanBaseline: number;
  /** The floor of a per-patch prediction: RMSE of the true patch means upsampled the same way. */
  oracle: number;
  /** MSE of standardised targets at the probe's last training step. */
  trainLoss: number;
}

export interface ClassificationResult {
  top1: number;
  /** Accuracy of always answering the most frequent training label. */
  majority: number;
  /** 1 / number of classes. */
  chance: number;
}

export interface EvalResult {
  setup: {
    train: number;
    test: number;
    size: number;
    patch: number;
    grid: [number, number];
    dataSeed: number;
    seed: number;
    k: number;
    vote: "weighted" | "majority";
    probe: Required<ProbeOptions>;
  };
  segmentation: SegmentationResult;
  depth: DepthResult;
  /** kNN on CLS#1 (training images' CLS#1 and main-object labels). */
  knn: ClassificationResult;
  /** Nearest prompt "a photo of a {shape}" to CLS#1. */
  zeroShot: ClassificationResult;
  retrieval: {
    /** CLS#1 against web captions. */
    web: Recall;
    /** CLS#2 against synthetic captions. */
    synthetic: Recall;
    /** Expected Recall@1 of a random ranking: 1 / test. */
    chance: number;
  };
  seconds: number;
}

/** The prompt for zero-shot classification of a shape. */
export function classPrompt(shape: string): string {
  return `a photo of a ${shape}`;
}

interface SplitData {
  scenes: Scene[];
  cls1: Float32Array;
  cls2: Float32Array;
  patches: Float32Array;
  /** Per patch, [images * g * g]. */
  patchClass: Int32Array;
  patchDepth: Float32Array;
  /** Per image. */
  mainObject: Int32Array;
}

/** Per patch: the patch feature followed by its image's CLS#1 ([rows, 2D]). */
function withGlobal(patches: Float32Array, cls1: Float32Array, perImage: number, d: number): Float32Array {
  const rows = patches.length / d;
  const out = new Float32Array(rows * 2 * d);
  for (let r = 0; r < rows; r++) {
    out.set(patches.subarray(r * d, (r + 1) * d), r * 2 * d);
    const image = Math.floor(r / perImage);
    out.set(cls1.subarray(image * d, (image + 1) * d), r * 2 * d + d);
  }
  return out;
}

export async function evaluate(encoder: TipsEncoder, options: EvalOptions = {}): Promise<EvalResult> {
  const started = performance.now();
  const trainCount = options.train ?? 64;
  const testCount = options.test ?? 32;
  const size = options.size ?? encoder.visionConfig.imageSize;
  const patch = encoder.visionConfig.patchSize;
  const dataSeed = options.dataSeed ?? 0;
  const seed = options.seed ?? 0;
  const k = options.k ?? 20;
  const vote = options.vote ?? "weighted";
  const batch = options.batch ?? 16;
  const probe: Required<ProbeOptions> = {
    steps: 300,
    lr: 0.02,
    weightDecay: 1e-4,
    batch: 4096,
    ...options.probe,
    seed,
  };
  const say = options.onProgress ?? (() => {});
  for (const [name, n] of [
    ["train", trainCount],
    ["test", testCount],
  ] as const) {
    if (!Number.isInteger(n) || n < 2) throw new Error(`evaluate: ${name} needs at least 2 images, got ${n}`);
  }
  if (!Number.isInteger(size) || size < 8 || size % patch !== 0)
    throw new Error(`evaluate: image size ${size} is not a multiple (>= 8) of the patch size ${patch}`);
  const g = size / patch;
  const d = encoder.visionConfig.width;
  if (encoder.textConfig.width !== d)
    throw new Error(
      `evaluate: image embeddings have ${d} dimensions but text embeddings ${encoder.textConfig.width}`,
    );
  const classes = SCENES_CLASSES.length;

  const load = async (split: SceneSplit, count: number): Promise<SplitData> => {
    say(`rendering ${count} ${split} scenes at ${size}x${size}`);
    const scenes = Array.from({ length: count }, (_, i) => renderScene(i, { size, split, seed: dataSeed }));
    say(`embedding ${count} ${split} images`);
    const f = await encoder.embedImages(
      scenes.map((s) => ({ width: size, height: size, data: s.image })),
      size,
      batch,
    );
    const patchClass = new Int32Array(count * g * g);
    const patchDepth = new Float32Array(count * g * g);
    scenes.forEach((s, i) => {
      patchClass.set(patchMajority(s.classMap, size, patch, classes), i * g * g);
      patchDepth.set(patchMean(s.depthMap, size, patch), i * g * g);
    });
    return {
      scenes,
      cls1: f.cls1,
      cls2: f.cls2,
      patches: f.patches,
      patchClass,
      patchDepth,
      mainObject: Int32Array.from(scenes, mainObjectClass),
    };
  };
  const train = await load("train", trainCount);
  const test = await load("heldout", testCount);

  // Segmentation: per-patch classifier, evaluated per pixel (nearest upsampling of patch labels).
  say(`segmentation probe: ${train.patchClass.length} patches, ${probe.steps} steps`);
  const seg = await LinearClassifier.fit(encoder.gpu, train.patches, train.patchClass, d, classes, probe);
  const predictedPatches = await seg.predict(test.patches);
  const trainLossSeg = seg.trainLoss;
  seg.dispose();
  const pixels = size * size;
  const toPixels = <T extends Int32Array | Float32Array>(perPatch: T, out: T): T => {
    for (let i = 0; i < testCount; i++)
      out.set(upsampleNearest(perPatch.subarray(i * g * g, (i + 1) * g * g) as T, size, patch), i * pixels);
    return out;
  };
  const predictedPixels = toPixels(predictedPatches, new Int32Array(testCount * pixels));
  const oraclePixels = toPixels(test.patchClass, new Int32Array(testCount * pixels));
  const truePixels = new Int32Array(testCount * pixels);
  test.scenes.forEach((s, i) => {
    truePixels.set(s.classMap, i * pixels);
  });
  const iou = meanIoU(predictedPixels, truePixels, classes);
  const freq = new Float64Array(classes);
  for (const c of truePixels) freq[c]++;
  for (let c = 0; c < classes; c++) freq[c] /= truePixels.length;

  // Depth: linear regression of per-patch mean depth from [patch, CLS#1], evaluated per pixel.
  say(`depth probe: ${train.patchDepth.length} patches, ${probe.steps} steps`);
  const depthProbe = await LinearRegressor.fit(
    encoder.gpu,
    withGlobal(train.patches, train.cls1, g * g, d),
    train.patchDepth,
    2 * d,
    probe,
  );
  const predictedDepth = await depthProbe.predict(withGlobal(test.patches, test.cls1, g * g, d));
  const trainLossDepth = depthProbe.trainLoss;
  depthProbe.dispose();
  const depthPixels = toPixels(predictedDepth, new Float32Array(testCount * pixels));
  const oracleDepth = toPixels(test.patchDepth, new Float32Array(testCount * pixels));
  const trueDepth = new Float32Array(testCount * pixels);
  test.scenes.forEach((s, i) => {
    trueDepth.set(s.depthMap, i * pixels);
  });
  let meanDepth = 0;
  for (const v of train.patchDepth) meanDepth += v;
  meanDepth /= train.patchDepth.length;

  // Global tasks on the main object's shape.
  say("kNN, zero-shot and retrieval");
  const knn = knnClassify(train.cls1, train.mainObject, test.cls1, d, { k, vote });
  const majority = majorityBaseline(train.mainObject, test.mainObject);
  const prompts = await encoder.embedTexts(SHAPES.map(classPrompt));
  const zeroShot = zeroShotClassify(test.cls1, prompts, d);
  const web = await encoder.embedTexts(test.scenes.map((s) => s.webCaption));
  const synthetic = await encoder.embedTexts(test.scenes.map((s) => s.syntheticCaption));

  return {
    setup: {
      train: trainCount,
      test: testCount,
      size,
      patch,
      grid: [g, g],
      dataSeed,
      seed,
      k: Math.min(k, trainCount),
      vote,
      probe,
    },
    segmentation: {
      mIoU: iou.mIoU,
      perClass: iou.perClass,
      classes: [...SCENES_CLASSES],
      allBackground: meanIoU(new Int32Array(truePixels.length), truePixels, classes).mIoU,
      chance: randomGuessMIoU(freq),
      oracle: meanIoU(oraclePixels, truePixels, classes).mIoU,
      trainLoss: trainLossSeg,
    },
    depth: {
      rmse: rmse(depthPixels, trueDepth),
      meanBaseline: rmse(new Float32Array(trueDepth.length).fill(meanDepth), trueDepth),
      oracle: rmse(oracleDepth, trueDepth),
      trainLoss: trainLossDepth,
    },
    knn: { top1: top1Accuracy(knn, test.mainObject), majority, chance: 1 / SHAPES.length },
    zeroShot: { top1: top1Accuracy(zeroShot, test.mainObject), majority, chance: 1 / SHAPES.length },
    retrieval: {
      web: recallAt1(test.cls1, web, d),
      synthetic: recallAt1(test.cls2, synthetic, d),
      chance: 1 / testCount,
    },
    seconds: (performance.now() - started) / 1000,
  };
}
