// Reverse-mode differentiation over the tape: run fn recording nodes, then walk them backwards
// from the (scalar) result, summing the gradients of tensors used more than once.
import { add, full } from "../ops/elementwise";
import { noGrad, withTape } from "./tape";
import { shapeString, type Tensor } from "./tensor";

export interface ValueAndGrad {
  value: Tensor;
  /** One gradient per requested tensor, same shape; zeros if the value does not depend on it. */
  grads: Tensor[];
}

/**
 * Evaluates fn() (a scalar, or any tensor given a seed gradient of its shape) and the gradients of
 * `wrt`. All intermediate tensors belong to the caller's tidy() scope.
 */
export function valueAndGrad(
  fn: () => Tensor,
  wrt: Tensor[],
  seed?: (value: Tensor) => Tensor,
): ValueAndGrad {
  for (const t of wrt) t.requiresGrad = true;
  const { result: value, nodes } = withTape(fn);
  if (!seed && value.size !== 1) {
    throw new Error(`valueAndGrad: the value has shape ${shapeString(value.shape)}; pass a seed gradient`);
  }
  const grads = new Map<Tensor, Tensor>();
  noGrad(() => {
    grads.set(value, seed ? seed(value) : full(value, value.shape, 1));
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i];
      const dOut = grads.get(node.output);
      if (!dOut) continue;
      const dInputs = node.backward(dOut);
      node.inputs.forEach((input, j) => {
        const d = dInputs[j];
        if (!d || !input.requiresGrad) return;
        if (d.shape.length !== input.shape.length || d.shape.some((v, k) => v !== input.shape[k])) {
          throw new Error(
            `backward of ${node.op} gave a gradient ${shapeString(d.shape)} for input ${shapeString(input.shape)}`,
          );
        }
        const prev = grads.get(input);
        grads.set(input, prev ? add(prev, d) : d);
      });
    }
  });
  return { value, grads: wrt.map((t) => grads.get(t) ?? full(t, t.shape, 0)) };
}
