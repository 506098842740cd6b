// DINO (CLS) and iBOT (patch) projection heads, as in DINOv2's DINOHead: a 3-layer GELU MLP to
// a bottleneck, L2-normalised, then a weight-normalised linear layer (each prototype row of unit
// norm, no bias) to K prototype logits.
import { Linear } from "../nn/linear";
import { l2Normalize, normalizedLinear } from "../ops/normalize";
import type { ParameterStore } from "../tensor/params";
import type { Rng } from "../tensor/rng";
import type { Tensor } from "../tensor/tensor";
import type { HeadConfig } from "./config";

const HEAD_EPS = 1e-12;

export class ProjectionHead {
  readonly layers: Linear[];
  /** [K, bottleneck]: prototype directions, normalised per row in forward. */
  readonly prototypes: Tensor;

  constructor(params: ParameterStore, name: string, inDim: number, c: HeadConfig, rng: Rng) {
    // DINOv2 draws the MLP weights from N(0, 0.02) with zero biases: a gain of about 1 per layer
    // at its hidden width 2048 (1 / sqrt(2048) = 0.022). Here the std is 1 / sqrt(fan_in), the
    // same gain at any width, so a small head neither shrinks its input to nothing before the
    // normalisation nor drowns it in bias: the logits keep what little the image changes in a
    // young encoder's CLS, which is all the teacher's targets have to go on.
    const layer = (suffix: string, i: number, o: number) =>
      new Linear(params, `${name}.${suffix}`, i, o, rng, { weight: { truncNormal: 1 / Math.sqrt(i) } });
    this.layers = [
      layer("mlp.0", inDim, c.hidden),
      layer("mlp.2", c.hidden, c.hidden),
      layer("mlp.4", c.hidden, c.bottleneck),
    ];
    this.prototypes = params.create(
      `${name}.last_layer.weight`,
      [c.prototypes, c.bottleneck],
      rng.truncNormal(c.prototypes * c.bottleneck, 0.02),
    );
  }

  /** x: [..., inDim] -> [..., K] logits. */
  forward(x: Tensor): Tensor {
    const [l0, l1, l2] = this.layers;
    // DINOv2's eps (fp32): at init a small head's bottleneck output has a norm well below the
    // 1e-3 the CLIP embeddings use, and that eps would squash every logit towards uniform.
    const z = l2Normalize(l2.forward(l1.forward(l0.forward(x, "gelu"), "gelu")), HEAD_EPS);
    return normalizedLinear(z, this.prototypes, HEAD_EPS);
  }
}
