// DINO (CLS) and iBOT (patch) projection heads, as in DINOv2's DINOHead: a 3-layer GELU MLP to
// a bottleneck, L2-normalised, then a weight-normalised linear layer (each prototype row of unit
// norm, no bias) to K prototype logits.
import { Linear } from "../nn/linear";
import { matmul } from "../ops/matmul";
import { l2Normalize } from "../ops/normalize";
import type { ParameterStore } from "../tensor/params";
import type { Rng } from "../tensor/rng";
import type { Tensor } from "../tensor/tensor";
import type { HeadConfig } from "./config";

export class ProjectionHead {
  readonly layers: Linear[];
  /** [K, bottleneck]: prototype directions, normalised per row in forward. */
  readonly prototypes: Tensor;

  constructor(params: ParameterStore, name: string, inDim: number, c: HeadConfig, rng: Rng) {
    const init = { weight: { truncNormal: 0.02 } } as const;
    this.layers = [
      new Linear(params, `${name}.mlp.0`, inDim, c.hidden, rng, init),
      new Linear(params, `${name}.mlp.2`, c.hidden, c.hidden, rng, init),
      new Linear(params, `${name}.mlp.4`, c.hidden, c.bottleneck, rng, init),
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
    const z = l2Normalize(l2.forward(l1.forward(l0.forward(x, "gelu"), "gelu")));
    return matmul(z, l2Normalize(this.prototypes), { transB: true });
  }
}
