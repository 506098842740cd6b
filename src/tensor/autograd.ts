// Reverse-mode differentiation over the tape: run fn recording nodes, then walk them backwards
// from the (scalar) result, summing the gradients of tensors used more than once. Gradients of
// the requested tensors can go straight into given tensors (a gradient slab), added in place.
import { accumulate, add, full } from "../ops/elementwise";
import { noGrad, withTape } from "./tape";
import { shapeString, type Tensor } from "./tensor";

export interface ValueAndGrad {
  value: Tensor;
  /** One gradient per requested tensor, same shape; zeros if the value does not depend on it. */
  grads: Tensor[];
}

/**
 * Evaluates fn() (a scalar, or any tensor given a seed gradient of its shape) and the gradients of
 * `wrt`. With `into` (one tensor per wrt, same shapes), the gradients are added to those tensors
 * in place, mostly by the kernels that compute them, and grads returns them. All intermediate
 * tensors belong to the caller's tidy() scope.
 */
export function valueAndGrad(
  fn: () => Tensor,
  wrt: Tensor[],
  seed?: (value: Tensor) => Tensor,
  into?: Tensor[],
): ValueAndGrad {
  for (const t of wrt) t.requiresGrad = true;
  const { result: value, nodes } = withTape(fn);
  if (!seed && value.size !== 1) {
    throw new Error(`valueAndGrad: the value has shape ${shapeString(value.shape)}; pass a seed gradient`);
  }
  const grads = new Map<Tensor, Tensor>();
  const targets = new Map<Tensor, Tensor>();
  into?.forEach((t, i) => {
    if (t.size !== wrt[i].size)
      throw new Error(`valueAndGrad: ${t.describe()} cannot take the gradient of ${wrt[i].describe()}`);
    targets.set(wrt[i], t);
  });
  noGrad(() => {
    grads.set(value, seed ? seed(value) : full(value, value.shape, 1));
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i];
      const dOut = grads.get(node.output);
      if (!dOut) continue;
      const dInputs = node.backward(
        dOut,
        node.inputs.map((input) => targets.get(input)),
      );
      node.inputs.forEach((input, j) => {
        const d = dInputs[j];
        if (!d || !input.requiresGrad) return;
        if (d.shape.length !== input.shape.length || d.shape.some((v, k) => v !== input.shape[k])) {
          throw new Error(
            `backward of ${node.op} gave a gradient ${shapeString(d.shape)} for input ${shapeString(input.shape)}`,
          );
        }
        const target = targets.get(input);
        if (target) {
          if (d !== target) accumulate(target, d);
          return;
        }
        const prev = grads.get(input);
        grads.set(input, prev ? add(prev, d) : d);
      });
    }
  });
  if (into) return { value, grads: into };
  return { value, grads: wrt.map((t) => grads.get(t) ?? full(t, t.shape, 0)) };
}
