// Every op's checks, by family. The unit tests and the app's self-check both run these.
import type { Gpu } from "../../gpu/gpu";
import { type CheckResult, checkOp, type OpCase } from "../check";
import { attentionCases, selfAttentionCases } from "./attention";
import { copyCases } from "./copy";
import { elementwiseCases } from "./elementwise";
import { embeddingCases } from "./embedding";
import { geluCases } from "./gelu";
import { layerNormCases } from "./layernorm";
import { layerScaleCases } from "./layerscale";
import { clipLossCases } from "./loss_clip";
import { distillCases } from "./loss_distill";
import { rilsCases } from "./loss_rils";
import { sparcCases } from "./loss_sparc";
import { matmulCases, mlpCases, normalizedCases } from "./matmul";
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
  attention: [...attentionCases, ...selfAttentionCases],
  softmax: softmaxCases,
  layernorm: layerNormCases,
  layerscale: layerScaleCases,
  gelu: geluCases,
  normalize: normalizeCases,
  embedding: embeddingCases,
  copy: copyCases,
  matmul: [...matmulCases, ...mlpCases, ...normalizedCases],
};

export type OnCheckResult = (family: string, index: number, result: CheckResult) => void;

/**
 * Checks every case of the given families (default all) in order, reporting each result as soon
 * as it is known. A case whose kernel throws is one failed case; the rest of the check goes on.
 */
export async function runChecks(gpu: Gpu, onResult: OnCheckResult, families = Object.keys(opFamilies)) {
  for (const family of families) {
    for (const [index, c] of opFamilies[family].entries()) {
      let result: CheckResult;
      try {
        result = await checkOp(gpu, c);
      } catch (err) {
        const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        result = { name: c.name, ok: false, forwardError: Number.NaN, gradError: null, message };
      }
      onResult(family, index, result);
    }
  }
}
