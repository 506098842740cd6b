import type { OpCase } from "../check";
import { scale } from "../elementwise";
import { clipLoss } from "../loss_clip";

/** float64 symmetric CLIP loss on a similarity matrix with logit scale exp(s). */
export function refClipLoss(b: number) {
  return ([sim, logScale]: Float64Array[]) => {
    const t = Math.exp(logScale[0]);
    let total = 0;
    for (let i = 0; i < b; i++) {
      let mr = -Infinity;
      let mc = -Infinity;
      for (let j = 0; j < b; j++) {
        mr = Math.max(mr, t * sim[i * b + j]);
        mc = Math.max(mc, t * sim[j * b + i]);
      }
      let sr = 0;
      let sc = 0;
      for (let j = 0; j < b; j++) {
        sr += Math.exp(t * sim[i * b + j] - mr);
        sc += Math.exp(t * sim[j * b + i] - mc);
      }
      total += mr + Math.log(sr) + mc + Math.log(sc) - 2 * t * sim[i * b + i];
    }
    return Float64Array.of(total / (2 * b));
  };
}

export const clipLossCases: OpCase[] = [
  // Workgroups (rows.ts) of 32 threads for lse and total up to B = 512, 64 at B = 513;
  // grad_scale's over B^2: 32 up to B = 22, 64 at B = 32, 128 at B = 33 (below), 256 from 46.
  ...[1, 3, 7, 32, 67, 300, 513].map(
    (b): OpCase => ({
      name: `clip loss B=${b}`,
      inputs: [{ shape: [b, b] }, { shape: [1], values: "positive" }],
      run: ([sim, logScale]) => clipLoss(sim, logScale),
      reference: refClipLoss(b),
      atol: 1e-4,
    }),
  ),
  {
    // Logit scale about 100 as trained CLIP models reach: logits up to several hundred.
    name: "clip loss B=33, logit scale ~100 (stable log-sum-exp)",
    inputs: [{ shape: [33, 33] }, { shape: [1], values: "positive" }],
    run: ([sim, logScale]) => clipLoss(sim, scale(logScale, 1, 3.5)),
    reference: ([sim, logScale]) => refClipLoss(33)([sim, logScale.map((v) => v + 3.5)]),
    atol: 1e-3,
    rtol: 1e-4,
  },
];
