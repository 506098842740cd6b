// mlp(x): y = act(x W1^T + b1) W2^T + b2, two Linears (PyTorch layout, W [out, in]) recorded as
// one node, so that the backward can fold the activation's derivative into the product that makes
// the hidden layer's gradient: dZ1 = (dY W2) * act'(Z1), one matmul instead of a matmul and an
// elementwise pass over the widest tensor of the block. The forward keeps Z1 only: dW2 = dY^T
// act(Z1) applies the activation to Z1 as its product loads it, so act(Z1), as wide, goes as soon
// as the second product has read it. The rest is as for two matmuls. x may be LN(x') deferred
// (Normalized): the first product normalises x' as it loads it, and the node's inputs begin x',
// LN's weight, LN's bias.
import { record, recording } from "../tensor/tape";
import type { Tensor } from "../tensor/tensor";
import { isNormalized, type Normalized, normalizedNeedsGrad } from "./layernorm";
import { type Activation, matmulGrads, normalizedLinearGrads, product } from "./matmul";

export interface MlpWeights {
  w1: Tensor;
  b1?: Tensor;
  w2: Tensor;
  b2?: Tensor;
}

export function mlp(x: Tensor | Normalized, { w1, b1, w2, b2 }: MlpWeights, activation: Activation): Tensor {
  const weights = [w1, b1, w2, b2].filter((t): t is Tensor => t !== undefined);
  const norm = isNormalized(x) ? x : null;
  const input = isNormalized(x) ? x.x : x; // what the first product reads
  const xInputs = norm ? [norm.x, norm.weight, norm.bias] : [input];
  const inputs = [...xInputs, ...weights];
  const keepPre = activation !== "none" && recording() && inputs.some((t) => t.requiresGrad);
  const fc1 = { transB: true, bias: b1, activation };
  const fc2 = { transB: true, bias: b2 };
  const { out: h, pre } = product(input, w1, { ...fc1, aNorm: norm ?? undefined }, { keepPre });
  const { out: y } = product(h, w2, fc2);
  // What dW2 reads: Z1 (act applied as it loads), or h itself when there is no activation.
  const hidden = pre ?? h;
  if (pre) h.dispose();
  const node = record("mlp", inputs, y, (dY, into) => {
    // into follows the inputs: x (or x', LN weight, LN bias), w1, [b1], w2, [b2].
    const intoNorm = into.slice(0, xInputs.length);
    const [intoW1, ...rest] = into.slice(xInputs.length);
    const intoB1 = b1 ? rest.shift() : undefined;
    const [intoW2, intoB2] = rest;
    const [, dW2, dB2] = matmulGrads(hidden, w2, dY, fc2, [undefined, intoW2, intoB2], {
      activation: pre ? activation : "none",
    });
    const xNeedsGrad = norm ? normalizedNeedsGrad(norm) : input.requiresGrad;
    const fc1NeedsGrad = xNeedsGrad || w1.requiresGrad || (b1?.requiresGrad ?? false);
    const activationGradOf = pre ? { z: pre, activation } : undefined;
    const dZ1 = fc1NeedsGrad ? product(dY, w2, {}, { activationGradOf }).out : null;
    let fc1Grads: (Tensor | null)[];
    if (!dZ1) fc1Grads = [...xInputs.map(() => null), null, ...(b1 ? [null] : [])];
    else if (norm) fc1Grads = normalizedLinearGrads(norm, w1, dZ1, fc1, intoNorm, [intoW1, intoB1]);
    else {
      const [dX, dW1, dB1] = matmulGrads(input, w1, dZ1, fc1, [intoNorm[0], intoW1, intoB1]);
      fc1Grads = [dX, dW1, ...(b1 ? [dB1] : [])];
    }
    return [...fc1Grads, dW2, ...(b2 ? [dB2] : [])];
  });
  if (norm && !node.requiresGrad) norm.stats.dispose(); // nothing will run the backward
  return node;
}
