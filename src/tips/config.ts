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

/** A configuration (a preset, or a file's header) that no model can be built from. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

// Sane ranges: the official sizes (up to g: width 1536, depth 40) well inside, and a header that
// lies (a depth of 100000, a width of 2^20) refused before anything is allocated for it.
const MAX_SIDE = 4096;
const MAX_WIDTH = 8192;
const MAX_DEPTH = 128;
const MAX_HIDDEN = 65536;
const MAX_VOCAB = 1 << 20;
const MAX_PROTOTYPES = 1 << 18;

/** Collects what is wrong with the fields of one part of a config, each check saying its field. */
class Checker {
  readonly problems: string[] = [];
  private readonly fields: Record<string, unknown>;

  constructor(
    private readonly part: string,
    value: unknown,
  ) {
    const isObject = typeof value === "object" && value !== null && !Array.isArray(value);
    if (!isObject) this.problems.push(`${part} is not an object`);
    this.fields = isObject ? (value as Record<string, unknown>) : {};
  }

  get ok(): boolean {
    return this.problems.length === 0;
  }

  private field(key: string): unknown {
    return Object.hasOwn(this.fields, key) ? this.fields[key] : undefined;
  }

  int(key: string, min: number, max: number): number {
    const v = this.field(key);
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.problems.push(`${this.part}.${key} must be an integer from ${min} to ${max}, got ${show(v)}`);
      return Number.NaN;
    }
    return v;
  }

  number(key: string, min: number, max: number, exclusiveMin = false): number {
    const v = this.field(key);
    if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (exclusiveMin && v === min)) {
      this.problems.push(
        `${this.part}.${key} must be a number ${exclusiveMin ? ">" : ">="} ${min} and <= ${max}, got ${show(v)}`,
      );
      return Number.NaN;
    }
    return v;
  }

  oneOf(key: string, choices: string[]): void {
    const v = this.field(key);
    if (typeof v !== "string" || !choices.includes(v))
      this.problems.push(
        `${this.part}.${key} must be ${choices.map((c) => `"${c}"`).join(" or ")}, got ${show(v)}`,
      );
  }

  divisible(widthKey: string, width: number, heads: number): void {
    if (width % heads !== 0)
      this.problems.push(`${this.part}.${widthKey} ${width} is not divisible by ${heads} heads`);
  }
}

function show(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

function visionProblems(value: unknown): string[] {
  const c = new Checker("vision", value);
  if (!c.ok) return c.problems;
  const imageSize = c.int("imageSize", 1, MAX_SIDE);
  const patch = c.int("patchSize", 1, 256);
  c.int("posGrid", 1, 512);
  const width = c.int("width", 1, MAX_WIDTH);
  c.int("depth", 1, MAX_DEPTH);
  const heads = c.int("heads", 1, 256);
  c.int("mlpHidden", 1, MAX_HIDDEN);
  c.oneOf("ffn", ["mlp", "swiglu"]);
  c.number("eps", 0, 1, true);
  c.number("layerScale", 0, 10);
  c.number("initStd", 0, 10, true);
  if (c.ok) {
    c.divisible("width", width, heads);
    if (imageSize % patch !== 0)
      c.problems.push(`image size ${imageSize} is not a multiple of patch ${patch}`);
  }
  return c.problems;
}

function textProblems(value: unknown): string[] {
  const c = new Checker("text", value);
  if (!c.ok) return c.problems;
  c.int("vocabSize", 1, MAX_VOCAB);
  c.int("maxLength", 1, MAX_SIDE);
  const width = c.int("width", 1, MAX_WIDTH);
  c.int("depth", 1, MAX_DEPTH);
  const heads = c.int("heads", 1, 256);
  c.int("mlpHidden", 1, MAX_HIDDEN);
  c.number("eps", 0, 1, true);
  if (c.ok) c.divisible("width", width, heads);
  return c.problems;
}

function trainingProblems(config: Record<string, unknown>): string[] {
  const head = new Checker("head", config.head);
  if (head.ok) {
    head.int("prototypes", 1, MAX_PROTOTYPES);
    head.int("hidden", 1, MAX_HIDDEN);
    head.int("bottleneck", 1, MAX_HIDDEN);
  }
  const views = new Checker("views", config.views);
  if (!views.ok) return [...head.problems, ...views.problems];
  views.int("localCrops", 0, 64);
  const localSize = views.int("localSize", 1, MAX_SIDE);
  const ratio = (config.views as Record<string, unknown>).maskRatio;
  const [lo, hi] = Array.isArray(ratio) && ratio.length === 2 ? ratio : [Number.NaN, Number.NaN];
  if (!(typeof lo === "number" && typeof hi === "number" && lo >= 0 && lo <= hi && hi < 1))
    views.problems.push(`mask ratio range ${show(ratio)} must be [lo, hi] with 0 <= lo <= hi < 1`);
  const vision = config.vision as VisionConfig;
  if (views.ok && localSize % vision.patchSize !== 0)
    views.problems.push(`local crop ${localSize} is not a multiple of patch ${vision.patchSize}`);
  return [...head.problems, ...views.problems];
}

function configName(c: unknown): string {
  const name = (c as { name?: unknown } | null)?.name;
  return typeof name === "string" ? name : "unnamed";
}

/**
 * Checks the image and text encoder parts of a configuration (all that inference needs): positive
 * integers in sane ranges, strings where strings, widths divisible by the heads.
 */
export function validateEncoderConfig(c: { name?: unknown; vision: unknown; text: unknown }): void {
  const problems = [...visionProblems(c.vision), ...textProblems(c.text)];
  if (problems.length)
    throw new ConfigError(`invalid TIPS config "${configName(c)}": ${problems.join("; ")}`);
}

/** Checks a whole configuration (encoders, heads, training views) and says what is wrong. */
export function validateConfig(c: TipsConfig): void {
  if (typeof c !== "object" || c === null) throw new ConfigError("the TIPS config is not an object");
  const raw = c as unknown as Record<string, unknown>;
  const problems = [...visionProblems(raw.vision), ...textProblems(raw.text)];
  if (typeof raw.name !== "string") problems.push(`name must be a string, got ${show(raw.name)}`);
  if (!problems.length) problems.push(...trainingProblems(raw));
  if (problems.length)
    throw new ConfigError(`invalid TIPS config "${configName(c)}": ${problems.join("; ")}`);
}

const linear = (i: number, o: number) => i * o + o;

/** Parameters of an image encoder: patch embedding, tokens, position embedding, blocks, final norm. */
export function visionParameterCount(v: VisionConfig): number {
  const d = v.width;
  const ffn =
    v.ffn === "swiglu"
      ? linear(d, 2 * v.mlpHidden) + linear(v.mlpHidden, d)
      : linear(d, v.mlpHidden) + linear(v.mlpHidden, d);
  const block = 2 * 2 * d + linear(d, 3 * d) + linear(d, d) + 2 * d + ffn;
  return (
    linear(3 * v.patchSize * v.patchSize, d) + 3 * d + (1 + v.posGrid ** 2) * d + v.depth * block + 2 * d
  );
}

/** Parameters of a text encoder: token embedding, blocks, final norm. */
export function textParameterCount(t: TextConfig): number {
  const block =
    2 * 2 * t.width +
    linear(t.width, 3 * t.width) +
    linear(t.width, t.width) +
    linear(t.width, t.mlpHidden) +
    linear(t.mlpHidden, t.width);
  return t.vocabSize * t.width + t.depth * block + 2 * t.width;
}

/** Parameters of a DINO or iBOT projection head. */
export function headParameterCount(width: number, h: HeadConfig): number {
  return (
    linear(width, h.hidden) +
    linear(h.hidden, h.hidden) +
    linear(h.hidden, h.bottleneck) +
    h.prototypes * h.bottleneck
  );
}
