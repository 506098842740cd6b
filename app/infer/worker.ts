// The Inference page's worker: owns a GPUDevice and one frozen TipsEncoder, the image it was
// last given and that image's features, so that the page never blocks. Requests run one at a
// time, in the order they came. Maps (PCA, similarities, segmentation) are computed here on the
// CPU from the features read back once per image.
import * as Comlink from "comlink";
import { decodeImage } from "../../src/data/decode-browser";
import type { RgbaImage } from "../../src/data/image";
import { describeScene, renderScene, SCENES_CLASSES, scenesSplit } from "../../src/data/scenes/scene";
import { emptySkipCounts } from "../../src/data/skips";
import { type EvalResult, evaluate } from "../../src/eval/evaluate";
import { recallAt1 } from "../../src/eval/metrics";
import { cosineMap, segment } from "../../src/featuremaps/maps";
import { pca, pcaRgb } from "../../src/featuremaps/pca";
import type { DeviceInfo } from "../../src/gpu/device";
import { Gpu } from "../../src/gpu/gpu";
import { type ImageFeatures, TipsEncoder } from "../../src/tips/encoder";
import { CheckpointCatalogue } from "../../src/train/catalogue";
import type {
  CaptionReport,
  EncoderInfo,
  EvalSettings,
  ImageReport,
  LoadedImage,
  SampleImage,
  SegmentReport,
  TextCheck,
} from "./api";

/** Held-out scenes the text check retrieves captions among (chance: 1 in this many). */
const TEXT_CHECK_SCENES = 16;

/** Side of the image the page draws the maps over. */
const VIEW_SIDE = 320;

let gpu: Gpu | null = null;
let model: TipsEncoder | null = null;
let image: { image: RgbaImage; name: string } | null = null;
let features: (ImageFeatures & { size: number }) | null = null;
let queue: Promise<unknown> = Promise.resolve();

/** Runs requests one after another (each awaits GPU reads; two must not interleave). */
function serial<T>(fn: () => Promise<T> | T): Promise<T> {
  const next = queue.then(fn);
  queue = next.catch(() => {});
  return next;
}

async function ensureGpu(): Promise<Gpu> {
  gpu ??= await Gpu.create();
  return gpu;
}

function sizesFor(imageSize: number, patch: number): number[] {
  const sizes = new Set<number>();
  for (const m of [1, 0.5, 2, 3, 4]) {
    const s = Math.floor((imageSize * m) / patch) * patch;
    if (s >= 2 * patch && s <= 1024) sizes.add(s);
  }
  return [...sizes];
}

function describeEncoder(
  m: TipsEncoder,
  name: string,
  source: EncoderInfo["source"],
  preset: string,
): EncoderInfo {
  const v = m.visionConfig;
  const t = m.textConfig;
  const tok = m.tokenizer as { size: number; constructor: { name: string } };
  return {
    name,
    source,
    preset,
    imageSize: v.imageSize,
    patchSize: v.patchSize,
    width: v.width,
    depth: v.depth,
    textWidth: t.width,
    textLength: t.maxLength,
    parameters: m.params.count,
    tokenizer: `${source === "official" ? "SentencePiece" : "word vocabulary"}, ${tok.size} entries`,
    sizes: sizesFor(v.imageSize, v.patchSize),
  };
}

function install(m: TipsEncoder, info: EncoderInfo): EncoderInfo {
  model?.dispose();
  model = m;
  features = null;
  return info;
}

function presetOf(bytes: Uint8Array): string {
  // The header's config names the preset; fromCheckpoint has already checked the header.
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  try {
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    return JSON.parse(header.__metadata__.config).name ?? "custom";
  } catch {
    return "custom";
  }
}

/** The current image resized (browser resampling) to the view's square, as the encoder squashes it. */
function viewOf(im: RgbaImage): { side: number; data: Uint8ClampedArray } {
  const source = new OffscreenCanvas(im.width, im.height);
  source
    .getContext("2d")!
    .putImageData(new ImageData(new Uint8ClampedArray(im.data), im.width, im.height), 0, 0);
  const view = new OffscreenCanvas(VIEW_SIDE, VIEW_SIDE);
  const ctx = view.getContext("2d", { willReadFrequently: true })!;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(source, 0, 0, VIEW_SIDE, VIEW_SIDE);
  return { side: VIEW_SIDE, data: ctx.getImageData(0, 0, VIEW_SIDE, VIEW_SIDE).data };
}

function needModel(): TipsEncoder {
  if (!model) throw new Error("load an encoder first");
  return model;
}

function needFeatures(): ImageFeatures & { size: number } {
  if (!features) throw new Error("choose an image first");
  return features;
}

const api = {
  /** Acquires the GPU (throws NoWebGPUError without WebGPU). */
  async info(): Promise<DeviceInfo> {
    return (await ensureGpu()).info;
  },

  loadCatalogued(id: string): Promise<EncoderInfo> {
    return serial(async () => {
      const { entry, bytes } = await new CheckpointCatalogue().get(id);
      const m = TipsEncoder.fromCheckpoint(await ensureGpu(), bytes);
      return install(m, describeEncoder(m, entry.name, "catalogue", entry.preset));
    });
  },

  /** Our .safetensors (training checkpoint or exported weights); throws what is wrong with it. */
  loadFile(bytes: Uint8Array, name: string): Promise<EncoderInfo> {
    return serial(async () => {
      const m = TipsEncoder.fromCheckpoint(await ensureGpu(), bytes);
      return install(m, describeEncoder(m, name, "file", presetOf(bytes)));
    });
  },

  /** The official release: vision .npz, text .npz, tokenizer.model (heads only for non-official widths). */
  loadOfficial(
    vision: Uint8Array,
    text: Uint8Array,
    tokenizer: Uint8Array,
    names: string,
    heads?: number,
  ): Promise<EncoderInfo> {
    return serial(async () => {
      const m = TipsEncoder.fromOfficial(await ensureGpu(), vision, text, tokenizer, heads);
      return install(m, describeEncoder(m, names, "official", "official"));
    });
  },

  /** Decodes image bytes (JPEG, PNG, WebP); throws a message a person can act on, and then
   * holds no image (the page shows none). */
  loadImage(bytes: Uint8Array, name: string): Promise<LoadedImage> {
    return serial(async () => {
      image = null;
      features = null;
      const skipped = emptySkipCounts();
      const decoded = await decodeImage(bytes, skipped);
      if (!decoded) {
        throw new Error(
          skipped.image_too_large
            ? "the image has more than 40 million pixels: scale it down first"
            : "it cannot be decoded as a JPEG, PNG or WebP image (wrong format, or the file is damaged)",
        );
      }
      image = { image: decoded, name };
      features = null;
      return { name, width: decoded.width, height: decoded.height };
    });
  },

  /** A held-out scene (never trained on) as the image, with its classes and captions. */
  loadSample(index: number): Promise<SampleImage> {
    return serial(() => {
      const count = scenesSplit("heldout");
      const i = ((index % count) + count) % count;
      const scene = renderScene(i, { size: 192, split: "heldout" });
      image = {
        image: { width: scene.size, height: scene.size, data: scene.image },
        name: `held-out scene ${i}`,
      };
      features = null;
      const nearest = scene.objects[scene.objects.length - 1];
      const others = [1, 2].map((k) => describeScene((i + k * 97) % count, { split: "heldout" }));
      return {
        name: image.name,
        width: scene.size,
        height: scene.size,
        classes: [...SCENES_CLASSES],
        captions: [
          scene.webCaption,
          scene.syntheticCaption,
          ...others.flatMap((s) => [s.webCaption, s.syntheticCaption]),
        ],
        query: nearest ? `a ${nearest.colour} ${nearest.shape}` : "the background",
      };
    });
  },

  /** Runs the encoder on the current image at size x size; returns the view and the PCA map. */
  embed(size: number): Promise<ImageReport> {
    return serial(async () => {
      const m = needModel();
      if (!image) throw new Error("choose an image first");
      const t0 = performance.now();
      const f = await m.embedImages([image.image], size, 1);
      const t1 = performance.now();
      const [g] = f.grid;
      const d = m.visionConfig.width;
      const n = g * g;
      const rgb = pcaRgb(f.patches, n, d);
      const { variances } = pca(f.patches, n, d, 3);
      const t2 = performance.now();
      // Total variance: the trace of the covariance, to express each component's share.
      let total = 0;
      const mean = new Float64Array(d);
      for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += f.patches[i * d + j] / n;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < d; j++) total += (f.patches[i * d + j] - mean[j]) ** 2 / n;
      features = { ...f, size };
      return {
        size,
        grid: g,
        view: viewOf(image.image),
        pca: rgb,
        explained: Array.from(variances, (v) => (total > 0 ? v / total : 0)),
        forwardMs: t1 - t0,
        pcaMs: t2 - t1,
      };
    });
  },

  /** Image-to-text Recall@1 of CLS#1 and CLS#2 on held-out scenes, at the encoder's input size. */
  textCheck(): Promise<TextCheck> {
    return serial(async () => {
      const m = needModel();
      const scenes = Array.from({ length: TEXT_CHECK_SCENES }, (_, i) =>
        renderScene(i, { size: 64, split: "heldout" }),
      );
      const f = await m.embedImages(
        scenes.map((s) => ({ width: s.size, height: s.size, data: s.image })),
        m.visionConfig.imageSize,
        8,
      );
      const web = await m.embedTexts(scenes.map((s) => s.webCaption));
      const syn = await m.embedTexts(scenes.map((s) => s.syntheticCaption));
      const d = m.textConfig.width;
      return {
        scenes: scenes.length,
        cls1: recallAt1(f.cls1, web, d).imageToText,
        cls2: recallAt1(f.cls2, syn, d).imageToText,
      };
    });
  },

  /** Cosine of the text's embedding with each patch of the current image. */
  query(text: string): Promise<Float32Array> {
    return serial(async () => {
      const m = needModel();
      const f = needFeatures();
      const q = await m.embedTexts([text]);
      const n = f.grid[0] * f.grid[1];
      return cosineMap(f.patches, n, m.visionConfig.width, q);
    });
  },

  /** Zero-shot segmentation: the most similar class text per patch. */
  segment(classes: string[]): Promise<SegmentReport> {
    return serial(async () => {
      const m = needModel();
      const f = needFeatures();
      if (classes.length === 0) throw new Error("type at least one class name");
      const texts = await m.embedTexts(classes);
      const n = f.grid[0] * f.grid[1];
      const s = segment(f.patches, n, m.visionConfig.width, texts, classes.length);
      return { labels: s.labels, counts: Array.from(s.counts) };
    });
  },

  /**
   * Measures the loaded encoder on held-out scenes as `tips eval` does (docs/evaluation.md):
   * linear probes for segmentation and depth, kNN and zero-shot top-1, retrieval R@1.
   */
  evaluate(settings: EvalSettings, onProgress: (line: string) => void): Promise<EvalResult> {
    return serial(() =>
      evaluate(needModel(), {
        train: settings.train,
        test: settings.test,
        probe: { steps: settings.probeSteps },
        onProgress,
      }),
    );
  },

  /** Cosine of each caption with CLS#1 and CLS#2 of the current image. */
  captions(captions: string[]): Promise<CaptionReport> {
    return serial(async () => {
      const m = needModel();
      const f = needFeatures();
      const texts = await m.embedTexts(captions);
      const d = m.textConfig.width;
      return {
        cls1: Array.from(cosineMap(texts, captions.length, d, f.cls1)),
        cls2: Array.from(cosineMap(texts, captions.length, d, f.cls2)),
      };
    });
  },
};

export type InferApi = typeof api;

Comlink.expose(api);
