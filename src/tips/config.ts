// Model configurations: the presets we train (tips-test for tests on SwiftShader, tips-micro for
// a laptop GPU) and the official TIPS shapes (for loading released weights). Official sizes are
// those of google-deepmind/tips (pytorch/image_encoder.py, pytorch/text_encoder.py).

export interface VisionConfig {
  /** Training/inference image side in pixels (global crop). */
  imageSize: number;
  patchSize: number;
  /** Side of the learned position-embedding grid (official checkpoints: 32, built at 448 px). */
  posGrid: number;
  width: number;
  depth: number;
  heads: number;
  mlpHidden: number;
  ffn: "mlp" | "swiglu";
  /** LayerNorm epsilon (DINOv2-style blocks use 1e-6). */
  eps: number;
  /**
   * Initial LayerScale gamma when training from scratch: DINOv2's 1e-5 for the official sizes;
   * 0.1 for the small presets, which otherwise spend their short runs waking the blocks up.
   */
  layerScale: number;
  /**
   * Std of the blocks' linear weights when training from scratch: DINOv2's 0.02 for the official
   * sizes; 1 / sqrt(width) for the small presets, where 0.02 leaves a block's output (and so the
   * CLS token) almost independent of the image at init, and self-distillation then has no
   * signal to start from.
   */
  initStd: number;
}

export interface TextConfig {
  vocabSize: number;
  maxLength: number;
  width: number;
  depth: number;
  heads: number;
  mlpHidden: number;
  /** LayerNorm epsilon (PyTorch default 1e-5 in the official text encoder). */
  eps: number;
}

export interface HeadConfig {
  /** K: prototypes of the DINO (CLS) and iBOT (patch) heads. */
  prototypes: number;
  hidden: number;
  bottleneck: number;
}

export interface TrainingViews {
  /** Local crops per image (the student's views for self-distillation). */
  localCrops: number;
  localSize: number;
  /** Mask ratio range for MIM, per image. */
  maskRatio: [number, number];
}

export interface TipsConfig {
  name: string;
  vision: VisionConfig;
  text: TextConfig;
  head: HeadConfig;
  views: TrainingViews;
}

function vision(
  width: number,
  depth: number,
  heads: number,
  mlpHidden: number,
  ffn: "mlp" | "swiglu" = "mlp",
): VisionConfig {
  return {
    imageSize: 448,
    patchSize: 14,
    posGrid: 32,
    width,
    depth,
    heads,
    mlpHidden,
    ffn,
    eps: 1e-6,
    layerScale: 1e-5,
    initStd: 0.02,
  };
}

function text(width: number, depth: number, heads: number, mlpHidden: number): TextConfig {
  return { vocabSize: 32000, maxLength: 64, width, depth, heads, mlpHidden, eps: 1e-5 };
}

const officialHead: HeadConfig = { prototypes: 65536, hidden: 2048, bottleneck: 256 };
const officialViews: TrainingViews = { localCrops: 6, localSize: 98, maskRatio: [0.1, 0.5] };

export const PRESETS: Record<string, TipsConfig> = {
  "tips-test": {
    name: "tips-test",
    vision: {
      imageSize: 16,
      patchSize: 4,
      posGrid: 4,
      width: 32,
      depth: 2,
      heads: 2,
      mlpHidden: 64,
      ffn: "mlp",
      eps: 1e-6,
      layerScale: 0.1,
      initStd: 1 / Math.sqrt(32),
    },
    text: { vocabSize: 64, maxLength: 8, width: 32, depth: 1, heads: 2, mlpHidden: 64, eps: 1e-5 },
    head: { prototypes: 32, hidden: 48, bottleneck: 16 },
    views: { localCrops: 2, localSize: 8, maskRatio: [0.1, 0.5] },
  },
  "tips-micro": {
    name: "tips-micro",
    vision: {
      imageSize: 64,
      patchSize: 8,
      posGrid: 8,
      width: 192,
      depth: 6,
      heads: 3,
      mlpHidden: 768,
      ffn: "mlp",
      eps: 1e-6,
      layerScale: 0.1,
      initStd: 1 / Math.sqrt(192),
    },
    text: { vocabSize: 2048, maxLength: 32, width: 192, depth: 4, heads: 3, mlpHidden: 768, eps: 1e-5 },
    head: { prototypes: 1024, hidden: 512, bottleneck: 128 },
    views: { localCrops: 6, localSize: 32, maskRatio: [0.1, 0.5] },
  },
  "tips-s14": {
    name: "tips-s14",
    vision: vision(384, 12, 6, 1536),
    text: text(384, 12, 6, 1536),
    head: officialHead,
    views: officialViews,
  },
  "tips-b14": {
    name: "tips-b14",
    vision: vision(768, 12, 12, 3072),
    text: text(768, 12, 12, 3072),
    head: officialHead,
    views: officialViews,
  },
  "tips-l14": {
    name: "tips-l14",
    vision: vision(1024, 24, 16, 4096),
    text: text(1024, 12, 16, 4096),
    head: officialHead,
    views: officialViews,
  },
  "tips-so400m14": {
    name: "tips-so400m14",
    vision: vision(1152, 27, 16, 4304),
    text: text(1152, 27, 16, 4304),
    head: officialHead,
    views: officialViews,
  },
  "tips-g14": {
    name: "tips-g14",
    vision: vision(1536, 40, 24, 4096, "swiglu"),
    text: text(1536, 12, 24, 6144),
    head: officialHead,
    views: officialViews,
  },
};

export function preset(name: string): TipsConfig {
  const c = PRESETS[name];
  if (!c) throw new Error(`unknown preset "${name}"; choose one of: ${Object.keys(PRESETS).join(", ")}`);
  return structuredClone(c);
}

/** Checks a configuration and says what is inconsistent. */
export function validateConfig(c: TipsConfig): void {
  const v = c.vision;
  const problems: string[] = [];
  if (v.width % v.heads !== 0) problems.push(`vision width ${v.width} is not divisible by ${v.heads} heads`);
  if (c.text.width % c.text.heads !== 0)
    problems.push(`text width ${c.text.width} is not divisible by ${c.text.heads} heads`);
  if (v.imageSize % v.patchSize !== 0)
    problems.push(`image size ${v.imageSize} is not a multiple of patch ${v.patchSize}`);
  if (c.views.localSize % v.patchSize !== 0)
    problems.push(`local crop ${c.views.localSize} is not a multiple of patch ${v.patchSize}`);
  const [lo, hi] = c.views.maskRatio;
  if (!(lo >= 0 && lo <= hi && hi < 1))
    problems.push(`mask ratio range [${lo}, ${hi}] must satisfy 0 <= lo <= hi < 1`);
  if (problems.length) throw new Error(`invalid TIPS config "${c.name}": ${problems.join("; ")}`);
}
