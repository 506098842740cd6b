// Every op's checks, by family. The unit tests and the app's self-check both run these.
import type { OpCase } from "../check";
import { attentionCases } from "./attention";
import { copyCases } from "./copy";
import { elementwiseCases } from "./elementwise";
import { embeddingCases } from "./embedding";
import { geluCases } from "./gelu";
import { layerNormCases } from "./layernorm";
import { clipLossCases } from "./loss_clip";
import { distillCases } from "./loss_distill";
import { rilsCases } from "./loss_rils";
import { sparcCases } from "./loss_sparc";
import { matmulCases } from "./matmul";
import { normalizeCases } from "./normalize";
import { patchifyCases } from "./patchify";
import { reduceCases } from "./reduce";
import { sinkhornCases } from "./sinkhorn";
import { softmaxCases } from "./softmax";
import { swigluCases } from "./swiglu";

export const opFamilies: Record<string, OpCase[]> = {
  elementwise: elementwiseCases,
  reduce: reduceCases,
  swiglu: swigluCases,
  loss_clip: clipLossCases,
  loss_distill: distillCases,
  loss_sparc: sparcCases,
  loss_rils: rilsCases,
  sinkhorn: sinkhornCases,
  patchify: patchifyCases,
  attention: attentionCases,
  softmax: softmaxCases,
  layernorm: layerNormCases,
  gelu: geluCases,
  normalize: normalizeCases,
  embedding: embeddingCases,
  copy: copyCases,
  matmul: matmulCases,
};
