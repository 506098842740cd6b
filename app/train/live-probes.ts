// Live dense probes, run by the trainer worker between training steps on the trainer's own
// device and model (the student): for a few fixed held-out scenes, the PCA of the patch features
// as RGB, a text query's similarity over the patches, and retrieval of the probe captions by
// CLS#1 (web captions) and CLS#2 (synthetic captions). Small on purpose: a handful of images at
// the model's input size and a few short texts, every N steps.
import { renderScene } from "../../src/data/scenes/scene";
import { cosineMap } from "../../src/featuremaps/maps";
import { pcaRgb } from "../../src/featuremaps/pca";
import { imageFeatures, textEmbeddings } from "../../src/tips/encoder";
import type { Trainer } from "../../src/train/trainer";
import type { ProbeReport, ProbeSettings } from "./api";

/** Held-out scenes shown as probes (never trained on: the train split draws from other states). */
const PROBE_SCENES = [0, 1, 2, 3];
/** Side the probe scenes are rendered at (the encoder resizes them to its input size). */
const PROBE_SIDE = 96;

export const DEFAULT_PROBE: ProbeSettings = { every: 10, query: "a red circle" };

const scenes = PROBE_SCENES.map((i) => renderScene(i, { size: PROBE_SIDE, split: "heldout" }));

let settings: ProbeSettings = DEFAULT_PROBE;

export function setProbe(s: ProbeSettings): void {
  settings = { every: Math.max(0, Math.floor(s.every)), query: s.query };
}

/** Whether the probes are due after `step` steps. */
export function probeDue(step: number): boolean {
  return settings.every > 0 && step % settings.every === 0;
}

/** Runs the probes on the trainer's current weights (call at a step boundary). */
export async function runProbe(trainer: Trainer): Promise<ProbeReport> {
  const t0 = performance.now();
  const { vision, text } = trainer.model;
  const images = scenes.map((s) => ({ width: s.size, height: s.size, data: s.image }));
  const f = await imageFeatures(vision, images, vision.config.imageSize, images.length);
  const query = settings.query.trim();
  const web = scenes.map((s) => s.webCaption);
  const syn = scenes.map((s) => s.syntheticCaption);
  const texts = await textEmbeddings(text, trainer.tokenizer, [query || " ", ...web, ...syn]);
  const d = vision.config.width;
  const [g] = f.grid;
  const n = g * g;
  const k = scenes.length;
  const q = texts.subarray(0, d);
  const webEmb = texts.subarray(d, (1 + k) * d);
  const synEmb = texts.subarray((1 + k) * d, (1 + 2 * k) * d);
  return {
    step: trainer.step,
    query,
    grid: g,
    images: scenes.map((s, i) => {
      const patches = f.patches.subarray(i * n * d, (i + 1) * n * d);
      return {
        name: `held-out scene ${PROBE_SCENES[i]}`,
        view: { side: s.size, data: new Uint8ClampedArray(s.image) },
        pca: pcaRgb(patches, n, d),
        heat: cosineMap(patches, n, d, q),
      };
    }),
    web,
    syn,
    cls1: scenes.map((_, i) => Array.from(cosineMap(webEmb, k, d, f.cls1.subarray(i * d, (i + 1) * d)))),
    cls2: scenes.map((_, i) => Array.from(cosineMap(synEmb, k, d, f.cls2.subarray(i * d, (i + 1) * d)))),
    ms: performance.now() - t0,
  };
}
