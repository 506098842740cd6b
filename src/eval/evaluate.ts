// Measures what TIPS claims of its frozen features, at small scale, on the built-in `scenes`
// dataset: dense probes (segmentation mIoU, depth RMSE) fitted on the train split and tested on
// the held-out split, kNN and zero-shot classification of each image's main object, and
// image-text retrieval with web captions (CLS#1) and synthetic captions (CLS#2). Which CLS each
// global metric reads can be chosen (`tokens`), so that a model is scored on the token(s) its
// losses trained. docs/evaluation.md explains each number and its baseline.
import { renderScene, SCENES_CLASSES, type Scene, type SceneSplit, SHAPES } from "../data/scenes/scene";
import type { ImageFeatures, TipsEncoder } from "../tips/encoder";
import { mainObjectClass, patchMajority, patchMean, upsampleNearest } from "./labels";
import { LinearClassifier, LinearRegressor, type ProbeOptions } from "./linear-probe";
import {
  type KnnOptions,
  knnClassify,
  majorityBaseline,
  meanIoU,
  randomGuessMIoU,
  recallAt1,
  rmse,
  top1Accuracy,
  zeroShotClassify,
} from "./metrics";

/** What evaluate() needs of an encoder: its shapes, image features and text embeddings. */
export type FrozenEncoder = Pick<
  TipsEncoder,
  "gpu" | "visionConfig" | "textConfig" | "embedImages" | "embedTexts"
>;

export type ClsToken = "cls1" | "cls2";

/**
 * The CLS token each global metric reads. Null: no loss trained a token for that metric, which is
 * then left out (null in the result, "-" in tables).
 */
export interface EvalTokens {
  /** kNN and the global feature of the depth probe (without one, the depth probe reads patches only). */
  image: ClsToken | null;
  /** Zero-shot classification against class prompts. */
  zeroShot: ClsToken | null;
  /** Retrieval with web captions and with synthetic captions. */
  web: ClsToken | null;
  synthetic: ClsToken | null;
}

/** TIPS's pairing: CLS#1 for global tasks and web captions, CLS#2 for synthetic captions. */
export const DEFAULT_TOKENS: EvalTokens = { image: "cls1", zeroShot: "cls1", web: "cls1", synthetic: "cls2" };

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
  /** Which CLS each global metric reads (default DEFAULT_TOKENS). */
  tokens?: EvalTokens;
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
  /** The CLS appended to each patch feature (null: patch features only). */
  globalToken: ClsToken | null;
  /** MSE of standardised targets at the probe's last training step. */
  trainLoss: number;
}

export interface ClassificationResult {
  /** The CLS read; null: none was trained for this task, and top1 is null. */
  token: ClsToken | null;
  top1: number | null;
  /** Accuracy of always answering the most frequent training label. */
  majority: number;
  /** 1 / number of classes. */
  chance: number;
}

export interface RetrievalResult {
  /** The CLS read; null: none was trained for this task, and both recalls are null. */
  token: ClsToken | null;
  imageToText: number | null;
  textToImage: number | null;
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
  /** kNN on a CLS (the training images' CLS and main-object labels). */
  knn: ClassificationResult;
  /** Nearest prompt "a photo of a {shape}" to a CLS. */
  zeroShot: ClassificationResult;
  retrieval: {
    /** A CLS (CLS#1 by default) against web captions. */
    web: RetrievalResult;
    /** A CLS (CLS#2 by default) against synthetic captions. */
    synthetic: RetrievalResult;
    /** Expected Recall@1 of a random ranking: 1 / test. */
    chance: number;
  };
  seconds: number;
}

/** The prompt for zero-shot classification of a shape. */
export function classPrompt(shape: string): string {
  return `a photo of a ${shape}`;
}

interface SplitData extends Pick<ImageFeatures, "cls1" | "cls2" | "patches"> {
  scenes: Scene[];
  /** Per patch, [images * g * g]. */
  patchClass: Int32Array;
  patchDepth: Float32Array;
  /** Per image. */
  mainObject: Int32Array;
}

/** Per patch: the patch feature followed by its image's CLS ([rows, 2D]); patches alone without one. */
function withGlobal(
  patches: Float32Array,
  cls: Float32Array | null,
  perImage: number,
  d: number,
): Float32Array {
  if (!cls) return patches;
  const rows = patches.length / d;
  const out = new Float32Array(rows * 2 * d);
  for (let r = 0; r < rows; r++) {
    out.set(patches.subarray(r * d, (r + 1) * d), r * 2 * d);
    const image = Math.floor(r / perImage);
    out.set(cls.subarray(image * d, (image + 1) * d), r * 2 * d + d);
  }
  return out;
}

export async function evaluate(encoder: FrozenEncoder, options: EvalOptions = {}): Promise<EvalResult> {
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
  const tokens = options.tokens ?? DEFAULT_TOKENS;
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

  // Depth: linear regression of per-patch mean depth from [patch, CLS], evaluated per pixel.
  say(`depth probe: ${train.patchDepth.length} patches, ${probe.steps} steps`);
  const cls = (split: SplitData, token: ClsToken | null) => (token ? split[token] : null);
  const depthProbe = await LinearRegressor.fit(
    encoder.gpu,
    withGlobal(train.patches, cls(train, tokens.image), g * g, d),
    train.patchDepth,
    tokens.image ? 2 * d : d,
    probe,
  );
  const predictedDepth = await depthProbe.predict(
    withGlobal(test.patches, cls(test, tokens.image), g * g, d),
  );
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
  const majority = majorityBaseline(train.mainObject, test.mainObject);
  const classification = async (
    token: ClsToken | null,
    predict: (token: ClsToken) => Promise<Int32Array> | Int32Array,
  ): Promise<ClassificationResult> => ({
    token,
    top1: token ? top1Accuracy(await predict(token), test.mainObject) : null,
    majority,
    chance: 1 / SHAPES.length,
  });
  const knn = await classification(tokens.image, (t) =>
    knnClassify(train[t], train.mainObject, test[t], d, { k, vote }),
  );
  const zeroShot = await classification(tokens.zeroShot, async (t) =>
    zeroShotClassify(test[t], await encoder.embedTexts(SHAPES.map(classPrompt)), d),
  );
  const retrieval = async (token: ClsToken | null, captions: string[]): Promise<RetrievalResult> => {
    if (!token) return { token, imageToText: null, textToImage: null };
    return { token, ...recallAt1(test[token], await encoder.embedTexts(captions), d) };
  };

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
      globalToken: tokens.image,
      trainLoss: trainLossDepth,
    },
    knn,
    zeroShot,
    retrieval: {
      web: await retrieval(
        tokens.web,
        test.scenes.map((s) => s.webCaption),
      ),
      synthetic: await retrieval(
        tokens.synthetic,
        test.scenes.map((s) => s.syntheticCaption),
      ),
      chance: 1 / testCount,
    },
    seconds: (performance.now() - started) / 1000,
  };
}
