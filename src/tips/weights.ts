// Loading weights into a parameter store by the official TIPS names: from the official .npz
// checkpoints (vision and text) or from our safetensors. Every name and shape is checked; what
// does not fit is reported by name, and nothing is half-loaded.
import type { ParameterStore } from "../tensor/params";
import type { StoredTensor } from "../tensor/safetensors";
import type { TextConfig, VisionConfig } from "./config";

export class WeightsError extends Error {
  override name = "WeightsError";
}

/**
 * Loads `arrays` into `store` (our parameter names are the official ones). Arrays the store has
 * no parameter for are returned in `ignored`; a store parameter (among those starting with one of
 * `prefixes`, default all) without an array is an error unless `partial`.
 */
export function loadArrays(
  store: ParameterStore,
  arrays: Map<string, StoredTensor>,
  options: { prefixes?: string[]; partial?: boolean } = {},
): { loaded: string[]; ignored: string[] } {
  const loaded: string[] = [];
  const ignored: string[] = [];
  const problems: string[] = [];
  const plan: [string, StoredTensor][] = [];
  for (const [name, array] of arrays) {
    if (!store.has(name)) {
      ignored.push(name);
      continue;
    }
    const p = store.get(name);
    if (array.shape.length !== p.shape.length || array.shape.some((d, i) => d !== p.shape[i])) {
      problems.push(`${name}: file has [${array.shape}], model has [${p.shape}]`);
      continue;
    }
    plan.push([name, array]);
  }
  const wanted = store.names.filter(
    (n) => !options.prefixes || options.prefixes.some((pre) => n.startsWith(pre)),
  );
  const missing = wanted.filter((n) => !plan.some(([m]) => m === n));
  if (missing.length && !options.partial)
    problems.push(
      `missing from the file: ${missing.slice(0, 8).join(", ")}${missing.length > 8 ? ` and ${missing.length - 8} more` : ""}`,
    );
  if (problems.length)
    throw new WeightsError(`weights do not fit the model (nothing was loaded): ${problems.join("; ")}`);
  for (const [name, array] of plan) {
    store.load(name, array.shape, array.data);
    loaded.push(name);
  }
  return { loaded, ignored };
}

const OFFICIAL_HEADS: Record<number, number> = { 384: 6, 768: 12, 1024: 16, 1152: 16, 1536: 24 };

function shapeOf(arrays: Map<string, StoredTensor>, name: string, file: string): number[] {
  const a = arrays.get(name);
  if (!a) throw new WeightsError(`${file} has no ${name}: is it an official TIPS ${file} checkpoint?`);
  return a.shape;
}

/** The encoder shapes of an official vision checkpoint (heads from the official size table unless given). */
export function visionConfigOf(
  arrays: Map<string, StoredTensor>,
  heads?: number,
  imageSize?: number,
): VisionConfig {
  const [width, , patch] = shapeOf(arrays, "patch_embed.proj.weight", "vision");
  const rows = shapeOf(arrays, "pos_embed", "vision")[1] - 1;
  const posGrid = Math.round(Math.sqrt(rows));
  let depth = 0;
  while (arrays.has(`blocks.${depth}.norm1.weight`)) depth++;
  const swiglu = arrays.has("blocks.0.mlp.w12.weight");
  const mlpHidden = swiglu
    ? shapeOf(arrays, "blocks.0.mlp.w3.weight", "vision")[1]
    : shapeOf(arrays, "blocks.0.mlp.fc1.weight", "vision")[0];
  const h = heads ?? OFFICIAL_HEADS[width];
  if (!h) throw new WeightsError(`vision width ${width} is not an official size: pass the number of heads`);
  return {
    imageSize: imageSize ?? posGrid * patch,
    patchSize: patch,
    posGrid,
    width,
    depth,
    heads: h,
    mlpHidden,
    ffn: swiglu ? "swiglu" : "mlp",
    eps: 1e-6,
    layerScale: 1e-5, // loaded from the checkpoint
    initStd: 0.02, // likewise
  };
}

export function textConfigOf(arrays: Map<string, StoredTensor>, heads?: number, maxLength = 64): TextConfig {
  const [vocabSize, width] = shapeOf(arrays, "token_embedding.weight", "text");
  let depth = 0;
  while (arrays.has(`transformer.resblocks.${depth}.ln_1.weight`)) depth++;
  const mlpHidden = shapeOf(arrays, "transformer.resblocks.0.mlp.c_fc.weight", "text")[0];
  const h = heads ?? OFFICIAL_HEADS[width];
  if (!h) throw new WeightsError(`text width ${width} is not an official size: pass the number of heads`);
  return { vocabSize, maxLength, width, depth, heads: h, mlpHidden, eps: 1e-5 };
}

const VISION_SHAPE_KEYS = ["patchSize", "posGrid", "width", "depth", "mlpHidden", "ffn"] as const;
const TEXT_SHAPE_KEYS = ["vocabSize", "width", "depth", "mlpHidden"] as const;

/**
 * Checks a (validated) config against the encoder tensors present, before a model is built from
 * it: a header that lies about sizes is refused here instead of allocating for them.
 */
export function checkConfigMatchesTensors(
  vision: VisionConfig,
  text: TextConfig,
  arrays: Map<string, StoredTensor>,
): void {
  let found: { vision: VisionConfig; text: TextConfig };
  try {
    found = { vision: visionConfigOf(arrays, vision.heads), text: textConfigOf(arrays, text.heads) };
  } catch (err) {
    throw new WeightsError(`the file lacks encoder tensors its config needs (${(err as Error).message})`);
  }
  const problems = [
    ...VISION_SHAPE_KEYS.filter((k) => found.vision[k] !== vision[k]).map(
      (k) => `vision.${k} is ${vision[k]} in the config but ${found.vision[k]} in the tensors`,
    ),
    ...TEXT_SHAPE_KEYS.filter((k) => found.text[k] !== text[k]).map(
      (k) => `text.${k} is ${text[k]} in the config but ${found.text[k]} in the tensors`,
    ),
  ];
  if (problems.length)
    throw new WeightsError(`the config does not match the tensors: ${problems.join("; ")}`);
}
