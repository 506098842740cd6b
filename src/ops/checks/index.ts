// Every op's checks, by family. The unit tests and the app's self-check both run these.
import type { OpCase } from "../check";
import { attentionCases } from "./attention";
import { copyCases } from "./copy";
import { elementwiseCases } from "./elementwise";
import { embeddingCases } from "./embedding";
import { clipLossCases } from "./loss_clip";
import { distillCases } from "./loss_distill";
import { patchifyCases } from "./patchify";
import { reduceCases } from "./reduce";
import { swigluCases } from "./swiglu";

export const opFamilies: Record<string, OpCase[]> = {
  elementwise: elementwiseCases,
  reduce: reduceCases,
  swiglu: swigluCases,
  loss_clip: clipLossCases,
  loss_distill: distillCases,
  patchify: patchifyCases,
  attention: attentionCases,
  embedding: embeddingCases,
  copy: copyCases,
};
