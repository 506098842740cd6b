// Checkpoints as safetensors: everything a resumed run needs to continue the same trajectory.
//   <official name>          student parameters (image encoder, heads, text encoder, logit_scale)
//   teacher.<name>           the EMA teacher (full encoder + heads, or heads only)
//   train.optimizer.m / .v   AdamW moments, the whole slab as one flat tensor
//   train.dino_centre / train.ibot_centre
// and in the header's __metadata__ (strings): format, the model config, the trainer's options
// and state (step, AdamW step, RNG state, data position) and the tokenizer. The student's tensors
// alone (exportWeights) are what other tools load: official names and shapes.
import type { SourcePosition } from "../data/examples";
import type { Gpu } from "../gpu/gpu";
import type { ParameterStore } from "../tensor/params";
import { decodeSafetensors, encodeSafetensors, type StoredTensor } from "../tensor/safetensors";
import type { Tensor } from "../tensor/tensor";
import { type TipsConfig, validateConfig } from "../tips/config";
import { DEFAULT_RILS, DEFAULT_SPARC, type LossWeights } from "../tips/loss";
import { checkConfigMatchesTensors } from "../tips/weights";
import { Trainer, type TrainerOptions, trainerOptions } from "./trainer";
import type { Tokenizer } from "./views";

export const CHECKPOINT_FORMAT = "tips-webgpu-checkpoint";
export const WEIGHTS_FORMAT = "tips-webgpu-weights";

/** A file that is not a checkpoint we can resume, with what is wrong. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}

export interface TrainerState {
  step: number;
  adamStep: number;
  rng: number[];
  source: SourcePosition | null;
}

export interface CheckpointInfo {
  format: string;
  config: TipsConfig;
  options: Omit<TrainerOptions, "config">;
  state: TrainerState;
  /** The tokenizer as its toJSON() gave it. */
  tokenizer: unknown;
  /** Free-form facts for catalogues: latest losses, date. */
  notes: Record<string, unknown>;
}

async function storeTensors(
  store: ParameterStore,
  prefix: string,
  out: Record<string, StoredTensor>,
): Promise<void> {
  for (const t of store.tensors) {
    out[prefix + t.name] = { dtype: "F32", shape: [...t.shape], data: (await t.read()) as Float32Array };
  }
}

async function flat(t: Tensor): Promise<StoredTensor> {
  const data = (await t.read()) as Float32Array;
  t.dispose();
  return { dtype: "F32", shape: [data.length], data };
}

/** Serialises a trainer (after its recorded steps) and the data position of its next batch. */
export async function saveCheckpoint(
  trainer: Trainer,
  source: SourcePosition | null,
  tokenizer: { toJSON(): unknown },
  notes: Record<string, unknown> = {},
): Promise<Uint8Array> {
  const { config, ...options } = trainer.options;
  const tensors: Record<string, StoredTensor> = {};
  const model = trainer.model;
  await storeTensors(model.params, "", tensors);
  await storeTensors(model.teacher.params, "teacher.", tensors);
  tensors["train.optimizer.m"] = await flat(trainer.optimizer.m.flat());
  tensors["train.optimizer.v"] = await flat(trainer.optimizer.v.flat());
  tensors["train.dino_centre"] = {
    dtype: "F32",
    shape: [...model.dinoCentre.shape],
    data: (await model.dinoCentre.read()) as Float32Array,
  };
  tensors["train.ibot_centre"] = {
    dtype: "F32",
    shape: [...model.ibotCentre.shape],
    data: (await model.ibotCentre.read()) as Float32Array,
  };
  const state: TrainerState = {
    step: trainer.step,
    adamStep: trainer.optimizer.t,
    rng: [...trainer.rng.state],
    source,
  };
  return encodeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(config),
    options: JSON.stringify(options),
    state: JSON.stringify(state),
    tokenizer: JSON.stringify(tokenizer.toJSON()),
    notes: JSON.stringify({ savedAt: new Date().toISOString(), ...notes }),
  });
}

/**
 * Trainer options as a file holds them, completed with what older files lack: checkpoints
 * written before SPARC and RILS existed have no weights or options for them (they were off).
 */
function completeOptions(saved: unknown): CheckpointInfo["options"] {
  if (!saved || typeof saved !== "object") return saved as CheckpointInfo["options"];
  const o = saved as Partial<CheckpointInfo["options"]>;
  if (!o.weights || typeof o.weights !== "object") return o as CheckpointInfo["options"];
  return {
    ...o,
    weights: { sparc: 0, rils: 0, ...(o.weights as Partial<LossWeights>) },
    sparc: { ...DEFAULT_SPARC, ...o.sparc },
    rils: { ...DEFAULT_RILS, ...o.rils },
  } as CheckpointInfo["options"];
}

function parseField(metadata: Record<string, string>, key: string): unknown {
  const raw = metadata[key];
  if (raw === undefined) throw new CheckpointError(`the header has no "${key}" entry`);
  try {
    return JSON.parse(raw);
  } catch {
    throw new CheckpointError(`the header's "${key}" entry is not valid JSON`);
  }
}

/** A checkpoint file's header and tensors, as readCheckpoint returns them. */
export interface ReadCheckpoint {
  info: CheckpointInfo;
  tensors: Map<string, StoredTensor>;
}

/** Reads the header and tensors of a checkpoint file, checking that it is one. */
export function readCheckpoint(bytes: Uint8Array): ReadCheckpoint {
  const { tensors, metadata } = decodeSafetensors(bytes);
  const format = metadata.format;
  if (format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      format === WEIGHTS_FORMAT
        ? "this file holds exported weights only (no optimiser or teacher state): it can be loaded for inference, not resumed"
        : `this safetensors file is not a TIPS training checkpoint (format "${format ?? "missing"}")`,
    );
  }
  const config = parseField(metadata, "config") as TipsConfig;
  const options = completeOptions(parseField(metadata, "options"));
  if (
    typeof config?.vision !== "object" ||
    config.vision === null ||
    typeof options !== "object" ||
    options === null
  )
    throw new CheckpointError(
      'the header\'s "config" or "options" entry is not an object as a checkpoint has',
    );
  // Fields added since the first checkpoints, with the behaviour those checkpoints were made with.
  config.vision.initStd ??= 0.02;
  options.centring ??= "centre";
  options.captions ??= "dual";
  if (options.views) options.views.maskProbability ??= 1;
  try {
    validateConfig(config);
    checkConfigMatchesTensors(config.vision, config.text, tensors);
  } catch (err) {
    throw new CheckpointError(err instanceof Error ? err.message : String(err));
  }
  return {
    info: {
      format,
      config,
      options,
      state: parseField(metadata, "state") as TrainerState,
      tokenizer: parseField(metadata, "tokenizer"),
      notes: (metadata.notes ? parseField(metadata, "notes") : {}) as Record<string, unknown>,
    },
    tensors,
  };
}

/** Loads every tensor of `store` from `prefix + name`, or from `fallback + name` where the first is absent. */
function loadStore(
  store: ParameterStore,
  prefix: string,
  tensors: Map<string, StoredTensor>,
  fallback: string | null = null,
): void {
  for (const t of store.tensors) {
    const stored =
      tensors.get(prefix + t.name) ?? (fallback === null ? undefined : tensors.get(fallback + t.name));
    if (!stored) throw new CheckpointError(`tensor ${prefix}${t.name} is missing`);
    if (stored.dtype !== "F32")
      throw new CheckpointError(`tensor ${prefix}${t.name} is ${stored.dtype}, not F32`);
    try {
      store.load(t.name!, stored.shape, stored.data);
    } catch (err) {
      throw new CheckpointError(
        `tensor ${prefix}${t.name}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
}

/**
 * The model's state: student, EMA teacher (with its heads) and the teacher centres. With
 * `teacherFromStudent`, teacher tensors the file lacks (a full teacher after a head-only one) start
 * as copies of the student's, as a new teacher does.
 */
function loadModel(trainer: Trainer, tensors: Map<string, StoredTensor>, teacherFromStudent = false): void {
  loadStore(trainer.model.params, "", tensors);
  loadStore(trainer.model.teacher.params, "teacher.", tensors, teacherFromStudent ? "" : null);
  loadFlat(trainer.model.dinoCentre, tensors.get("train.dino_centre"), "train.dino_centre");
  loadFlat(trainer.model.ibotCentre, tensors.get("train.ibot_centre"), "train.ibot_centre");
}

function loadFlat(t: Tensor, stored: StoredTensor | undefined, name: string): void {
  if (stored?.dtype !== "F32" || stored.data.length !== t.size)
    throw new CheckpointError(`tensor ${name} is missing or has the wrong size (expected ${t.size} values)`);
  t.gpu.write(t.buffer, stored.data, t.offset);
}

/**
 * Rebuilds a trainer from a checkpoint; `tokenizerFrom` turns the saved tokenizer JSON back into
 * a tokenizer. Returns the data position to continue the source from. Nothing is changed on
 * failure: the checkpoint is read whole and checked before any GPU state is made.
 */
export function restoreTrainer<T extends Tokenizer>(
  gpu: Gpu,
  /** The file, or what readCheckpoint read from it (to check a file before the GPU is started). */
  file: Uint8Array | ReadCheckpoint,
  tokenizerFrom: (json: unknown) => T,
): { trainer: Trainer; tokenizer: T; source: SourcePosition | null; info: CheckpointInfo } {
  const { info, tensors } = file instanceof Uint8Array ? readCheckpoint(file) : file;
  const tokenizer = tokenizerFrom(info.tokenizer);
  const trainer = new Trainer(gpu, { ...info.options, config: info.config }, tokenizer);
  try {
    loadModel(trainer, tensors);
    for (const [slab, name] of [
      [trainer.optimizer.m, "train.optimizer.m"],
      [trainer.optimizer.v, "train.optimizer.v"],
    ] as const) {
      const view = slab.flat();
      try {
        loadFlat(view, tensors.get(name), name);
      } finally {
        view.dispose();
      }
    }
  } catch (err) {
    trainer.dispose();
    throw err;
  }
  trainer.step = info.state.step;
  trainer.optimizer.t = info.state.adamStep;
  trainer.rng.state = Uint32Array.from(info.state.rng);
  return { trainer, tokenizer, source: info.state.source, info };
}

/**
 * A new run that starts from a checkpoint's model: its student, teacher, heads, centres and
 * tokenizer (the model's shape and vocabulary come with it), trained on with new options (steps,
 * batch, learning rate, loss terms...) and a fresh optimiser, schedule and data position. This is
 * how a trained model is taken on with another loss term (SPARC, RILS) or other data. The run keeps
 * the checkpoint's crop views, teacher kind and teacher targets unless `overrides` sets them.
 */
export function startFromCheckpoint<T extends Tokenizer>(
  gpu: Gpu,
  /** The file, or what readCheckpoint read from it (to check a file before the GPU is started). */
  file: Uint8Array | ReadCheckpoint,
  tokenizerFrom: (json: unknown) => T,
  overrides: Parameters<typeof trainerOptions>[1],
): { trainer: Trainer; tokenizer: T; info: CheckpointInfo } {
  const { info, tensors } = file instanceof Uint8Array ? readCheckpoint(file) : file;
  const tokenizer = tokenizerFrom(info.tokenizer);
  const options = trainerOptions(info.config, {
    views: info.options.views,
    centring: info.options.centring,
    teacher: info.options.teacher,
    ...overrides,
  });
  const trainer = new Trainer(gpu, options, tokenizer);
  try {
    loadModel(trainer, tensors, true);
  } catch (err) {
    trainer.dispose();
    throw err;
  }
  return { trainer, tokenizer, info };
}

/** The student's weights alone, official names, with the config and tokenizer in the header. */
export async function exportWeights(trainer: Trainer, tokenizer: { toJSON(): unknown }): Promise<Uint8Array> {
  const tensors: Record<string, StoredTensor> = {};
  await storeTensors(trainer.model.params, "", tensors);
  return encodeSafetensors(tensors, {
    format: WEIGHTS_FORMAT,
    config: JSON.stringify(trainer.options.config),
    tokenizer: JSON.stringify(tokenizer.toJSON()),
  });
}
