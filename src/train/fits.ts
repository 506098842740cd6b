// Whether a training run fits what the adapter allows, checked before anything is allocated, so
// that a GPU too small for a preset gets a sentence saying what does not fit and what to change
// instead of a validation error halfway through the first step. WebGPU does not tell how much
// memory a GPU has; what it does tell is the largest buffer it can make and bind, and a run needs
// its parameters (one slab, and as many again for the gradients and each AdamW moment) and its
// largest activations in single buffers.
import {
  headParameterCount,
  type TipsConfig,
  textParameterCount,
  visionParameterCount,
} from "../tips/config";

/** Parameters of the student (image encoder, DINO and iBOT heads, text encoder, logit scale). */
export function parameterCount(c: TipsConfig): number {
  return (
    visionParameterCount(c.vision) +
    2 * headParameterCount(c.vision.width, c.head) +
    textParameterCount(c.text) +
    1
  );
}

export interface BufferNeed {
  what: string;
  bytes: number;
}

/** The largest single buffers a training step of this configuration needs, largest first. */
export function largestBuffers(c: TipsConfig, microBatch: number): BufferNeed[] {
  const v = c.vision;
  const patches = (v.imageSize / v.patchSize) ** 2;
  // The student sees each global crop twice (unmasked and masked) in one batch of 2B.
  const tokens = 2 * microBatch * (patches + 2);
  const localTokens = microBatch * c.views.localCrops * ((c.views.localSize / v.patchSize) ** 2 + 2);
  const hidden = v.ffn === "swiglu" ? 2 * v.mlpHidden : v.mlpHidden;
  const needs: BufferNeed[] = [
    {
      what: "the parameters (one buffer, and one each for gradients and AdamW moments)",
      bytes: 4 * parameterCount(c),
    },
    {
      what: "the iBOT head's logits (patches x prototypes)",
      bytes: 4 * microBatch * patches * c.head.prototypes,
    },
    {
      what: "the DINO head's logits (local crops x prototypes)",
      bytes: 4 * microBatch * c.views.localCrops * c.head.prototypes,
    },
    { what: "the image encoder's MLP activations", bytes: 4 * Math.max(tokens, localTokens) * hidden },
    {
      what: "the image encoder's attention inputs (q, k, v)",
      bytes: 4 * Math.max(tokens, localTokens) * 3 * v.width,
    },
    {
      what: "the text encoder's MLP activations",
      bytes: 4 * 2 * microBatch * c.text.maxLength * c.text.mlpHidden, // both captions in one batch
    },
  ];
  return needs.sort((a, b) => b.bytes - a.bytes);
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/**
 * Null when every buffer fits the adapter's limits (maxBufferSize, maxStorageBufferBindingSize);
 * otherwise what does not fit and what to change.
 */
export function checkTrainingFits(
  c: TipsConfig,
  batch: number,
  accumulate: number,
  limits: Record<string, number>,
): string | null {
  const limit = Math.min(limits.maxBufferSize ?? Infinity, limits.maxStorageBufferBindingSize ?? Infinity);
  const micro = batch / accumulate;
  const [largest] = largestBuffers(c, micro);
  if (largest.bytes <= limit) return null;
  const advice = largest.what.startsWith("the parameters")
    ? `this preset is too large for this GPU: choose a smaller one`
    : `lower the batch (or raise gradient accumulation) so that ${micro} examples per micro-batch become fewer, or choose a smaller preset`;
  return (
    `this GPU cannot hold ${c.name} at ${micro} examples per micro-batch: ${largest.what} need one buffer of ` +
    `${mib(largest.bytes)}, and the adapter allows at most ${mib(limit)} per buffer. To train here, ${advice}.`
  );
}
