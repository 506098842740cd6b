// A frozen TIPS model for feature extraction: the image encoder, the text encoder and their
// tokenizer, loaded from our checkpoints (training checkpoints or exported weights) or from the
// official release (vision .npz, text .npz, tokenizer.model). Nothing here trains; it runs in the
// browser and in Node alike.
import { loadTokenizer, type TextTokenizer } from "../data/text/sentencepiece";
import { Vocabulary } from "../data/text/vocab";
import { MissingFeatureError } from "../gpu/errors";
import type { Gpu } from "../gpu/gpu";
import { cropImages, packImages, type RgbaImage } from "../ops/crop";
import { l2Normalize } from "../ops/normalize";
import { ParameterStore } from "../tensor/params";
import { Rng } from "../tensor/rng";
import { decodeSafetensors, type StoredTensor } from "../tensor/safetensors";
import { tidy } from "../tensor/scope";
import { noGrad } from "../tensor/tape";
import type { Tensor } from "../tensor/tensor";
import {
  type TextConfig,
  textParameterCount,
  type VisionConfig,
  validateEncoderConfig,
  visionParameterCount,
} from "./config";
import { readNpz } from "./npz";
import { TextTower, textBatch } from "./text";
import { VisionEncoder } from "./vision";
import { checkConfigMatchesTensors, loadArrays, textConfigOf, visionConfigOf, WeightsError } from "./weights";

export interface ImageFeatures {
  /** [B, D] CLS#1, L2-normalised (the embedding for web-caption retrieval). */
  cls1: Float32Array;
  /** [B, D] CLS#2, L2-normalised (the embedding for synthetic, descriptive captions). */
  cls2: Float32Array;
  /** [B, h*w, D] patch tokens after the final norm, not normalised. */
  patches: Float32Array;
  grid: [number, number];
}

export class TipsEncoder {
  readonly vision: VisionEncoder;
  readonly text: TextTower;

  private constructor(
    readonly gpu: Gpu,
    readonly params: ParameterStore,
    readonly visionConfig: VisionConfig,
    readonly textConfig: TextConfig,
    readonly tokenizer: TextTokenizer,
    arrays: Map<string, StoredTensor>,
  ) {
    checkEncoderFits(visionConfig, textConfig, gpu.info.limits);
    const rng = new Rng(0); // every value is overwritten by the weights
    this.vision = new VisionEncoder(gpu, params, visionConfig, rng);
    this.text = new TextTower(gpu, params, textConfig, rng);
    try {
      loadArrays(params, arrays);
      params.fit();
    } catch (err) {
      params.dispose();
      throw err;
    }
  }

  /** An encoder from weights read (and checked) by readOfficialWeights or readCheckpointWeights. */
  static fromWeights(gpu: Gpu, w: EncoderWeights): TipsEncoder {
    return new TipsEncoder(gpu, new ParameterStore(gpu), w.vision, w.text, w.tokenizer, w.arrays);
  }

  /** The official release: image encoder .npz, text encoder .npz and tokenizer.model. */
  static fromOfficial(
    gpu: Gpu,
    visionNpz: Uint8Array,
    textNpz: Uint8Array,
    tokenizerModel: Uint8Array,
    /** Attention heads, needed only for widths that are not an official size. */
    heads?: number,
  ): TipsEncoder {
    return TipsEncoder.fromWeights(gpu, readOfficialWeights(visionNpz, textNpz, tokenizerModel, heads));
  }

  /** Our safetensors: a training checkpoint or exported weights, with config and tokenizer inside. */
  static fromCheckpoint(gpu: Gpu, bytes: Uint8Array): TipsEncoder {
    return TipsEncoder.fromWeights(gpu, readCheckpointWeights(bytes));
  }

  /**
   * Features of images resized to size x size (antialiased bilinear, as the official demo's
   * Resize((size, size))), in batches of `batch`. `onBatch` hears the number done so far.
   */
  embedImages(
    images: RgbaImage[],
    size = this.visionConfig.imageSize,
    batch = 16,
    onBatch?: (done: number) => void,
  ): Promise<ImageFeatures> {
    return imageFeatures(this.vision, images, size, batch, onBatch);
  }

  /** [T, D] L2-normalised text embeddings. */
  embedTexts(texts: string[], batch = 64): Promise<Float32Array> {
    return textEmbeddings(this.text, this.tokenizer, texts, batch);
  }

  dispose(): void {
    this.params.dispose();
  }
}

/** What an encoder is built from: configs, tokenizer and arrays, read and checked without a GPU. */
export interface EncoderWeights {
  vision: VisionConfig;
  text: TextConfig;
  tokenizer: TextTokenizer;
  arrays: Map<string, StoredTensor>;
}

/** The official release (image .npz, text .npz, tokenizer.model) read and checked. */
export function readOfficialWeights(
  visionNpz: Uint8Array,
  textNpz: Uint8Array,
  tokenizerModel: Uint8Array,
  /** Attention heads, needed only for widths that are not an official size. */
  heads?: number,
): EncoderWeights {
  const vision = readNpz(visionNpz);
  const text = readNpz(textNpz);
  text.delete("temperature"); // the CLIP temperature is not part of the encoder
  let tokenizer: TextTokenizer;
  try {
    tokenizer = loadTokenizer(tokenizerModel);
  } catch (err) {
    throw new WeightsError(`the tokenizer: ${(err as Error).message}`);
  }
  const textConfig = textConfigOf(text, heads);
  if (tokenizer.size > textConfig.vocabSize)
    throw new WeightsError(
      `the tokenizer has ${tokenizer.size} pieces but the text encoder only ${textConfig.vocabSize} embeddings: are they from the same release?`,
    );
  const visionConfig = visionConfigOf(vision, heads);
  validateEncoderConfig({ name: "official", vision: visionConfig, text: textConfig });
  return { vision: visionConfig, text: textConfig, tokenizer, arrays: new Map([...vision, ...text]) };
}

/** Our safetensors (a training checkpoint or exported weights) read, its config checked against its tensors. */
export function readCheckpointWeights(bytes: Uint8Array): EncoderWeights {
  const { tensors, metadata } = decodeSafetensors(bytes);
  if (!metadata.config || !metadata.tokenizer)
    throw new WeightsError(
      "this safetensors file has no TIPS config and tokenizer in its header: for the official release load its .npz files and tokenizer.model",
    );
  let config: { name?: unknown; vision: VisionConfig; text: TextConfig };
  let tokenizerJson: unknown;
  try {
    config = JSON.parse(metadata.config);
    tokenizerJson = JSON.parse(metadata.tokenizer);
  } catch {
    throw new WeightsError("the header's config or tokenizer entry is not valid JSON");
  }
  if (typeof config !== "object" || config === null)
    throw new WeightsError("the header's config entry is not an object");
  // Files written before initStd existed lack it; it only matters when training from scratch.
  if (typeof config.vision === "object" && config.vision !== null) config.vision.initStd ??= 0.02;
  validateEncoderConfig(config);
  checkConfigMatchesTensors(config.vision, config.text, tensors);
  let tokenizer: Vocabulary;
  try {
    tokenizer = Vocabulary.fromJSON(tokenizerJson);
  } catch (err) {
    throw new WeightsError(`the header's tokenizer entry is not a vocabulary (${(err as Error).message})`);
  }
  if (tokenizer.size > config.text.vocabSize)
    throw new WeightsError(
      `the tokenizer has ${tokenizer.size} words but the text encoder only ${config.text.vocabSize} embeddings`,
    );
  // Only the encoders load: teacher, heads, optimiser state and the logit scale are ignored.
  return { vision: config.vision, text: config.text, tokenizer, arrays: tensors };
}

/**
 * Refuses encoders whose parameters (one buffer) this adapter cannot hold, before anything is
 * allocated for them.
 */
export function checkEncoderFits(
  vision: VisionConfig,
  text: TextConfig,
  limits: Record<string, number>,
): void {
  const bytes = 4 * (visionParameterCount(vision) + textParameterCount(text));
  const limit = Math.min(limits.maxBufferSize ?? Infinity, limits.maxStorageBufferBindingSize ?? Infinity);
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  if (bytes > limit)
    throw new MissingFeatureError(
      `this GPU cannot hold the encoder: its parameters need one buffer of ${mib(bytes)}, and the adapter allows at most ${mib(limit)} per buffer`,
    );
}

/**
 * Features of images from any image encoder (a frozen one, or a training model's student between
 * steps), resized to size x size, in batches of `batch`. Nothing is recorded for gradients.
 */
export async function imageFeatures(
  vision: VisionEncoder,
  images: RgbaImage[],
  size = vision.config.imageSize,
  batch = 16,
  onBatch?: (done: number) => void,
): Promise<ImageFeatures> {
  const { gpu } = vision;
  const p = vision.config.patchSize;
  if (!Number.isInteger(size) || size < p || size % p !== 0)
    throw new Error(`image size ${size} is not a positive multiple of the patch size ${p}`);
  const d = vision.config.width;
  const g = size / p;
  const n = images.length;
  const out: ImageFeatures = {
    cls1: new Float32Array(n * d),
    cls2: new Float32Array(n * d),
    patches: new Float32Array(n * g * g * d),
    grid: [g, g],
  };
  for (let start = 0; start < n; start += batch) {
    const part = images.slice(start, start + batch);
    const [cls1, cls2, patches] = noGrad(() =>
      tidy(() => {
        const packed = packImages(gpu, part);
        const boxes = part.map((im, i) => ({
          image: i,
          x: 0,
          y: 0,
          width: im.width,
          height: im.height,
          flip: false,
        }));
        const o = vision.forward(cropImages(packed, boxes, size));
        return [l2Normalize(o.cls1), l2Normalize(o.cls2), o.patches];
      }),
    );
    out.cls1.set((await cls1.read()) as Float32Array, start * d);
    out.cls2.set((await cls2.read()) as Float32Array, start * d);
    out.patches.set((await patches.read()) as Float32Array, start * g * g * d);
    for (const t of [cls1, cls2, patches]) t.dispose();
    onBatch?.(Math.min(start + batch, n));
  }
  return out;
}

/** [T, D] L2-normalised text embeddings from any text encoder and its tokenizer. */
export async function textEmbeddings(
  text: TextTower,
  tokenizer: { encode(texts: readonly string[], length: number): { ids: Int32Array } },
  texts: string[],
  batch = 64,
): Promise<Float32Array> {
  const d = text.config.width;
  const length = text.config.maxLength;
  const out = new Float32Array(texts.length * d);
  for (let start = 0; start < texts.length; start += batch) {
    const part = texts.slice(start, start + batch);
    const { ids } = tokenizer.encode(part, length);
    const t: Tensor = noGrad(() =>
      tidy(() => l2Normalize(text.forward(textBatch(text.gpu, ids, part.length, length)))),
    );
    out.set((await t.read()) as Float32Array, start * d);
    t.dispose();
  }
  return out;
}
