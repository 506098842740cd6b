// Reverse-mode differentiation over the tape: run fn recording nodes, then walk them backwards
// from the (scalar) result, summing the gradients of tensors used more than once: in place where
// the kernel computing a gradient can add it to one no other gradient shares (beta = 1), and
// straight into given tensors for the requested ones (a gradient slab). Memory goes back to the
// pool as the walk goes: a node's output gradient once the node has run, a gradient once added to
// another, what a node's backward made besides its gradients when it returns, and (with `retain`)
// each tensor fn made once the last node that may read it has run.
import { scoped, tidy } from "../tensor/scope";
import { noGrad, withTape } from "../tensor/tape";
import { shapeString, type Tensor } from "../tensor/tensor";
import { add } from "./elementwise";
import { accumulate, full } from "./elementwise_kernels";

export interface ValueAndGrad {
  value: Tensor;
  /** One gradient per requested tensor, same shape; zeros if the value does not depend on it. */
  grads: Tensor[];
}

/**
 * Evaluates fn() (a scalar, or any tensor given a seed gradient of its shape) and the gradients of
 * `wrt`. With `into` (one tensor per wrt, same shapes), the gradients are added to those tensors
 * in place, mostly by the kernels that compute them, and grads returns them. All intermediate
 * tensors belong to the caller's tidy() scope. With `retain`, the tensors fn made (activations,
 * the teacher's outputs, ...) are released during the backward, as soon as no node left to run
 * can read them: only the value and those retain() lists, read after the backward, remain; and a
 * noGrad inside fn releases what it made and does not return as soon as it returns.
 */
export function valueAndGrad(
  fn: () => Tensor,
  wrt: Tensor[],
  seed?: (value: Tensor) => Tensor,
  into?: Tensor[],
  retain?: () => Tensor[],
): ValueAndGrad {
  for (const t of wrt) t.requiresGrad = true;
  const { result: value, nodes, made } = withTape<Tensor, Tensor>(fn, retain !== undefined);
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
  // A gradient may be added to in place only while no other gradient shares its buffer.
  const sharing = new Map<GPUBuffer, number>();
  const share = (t: Tensor, n: number) => sharing.set(t.buffer, (sharing.get(t.buffer) ?? 0) + n);
  const setGrad = (input: Tensor, d: Tensor) => {
    const prev = grads.get(input);
    if (prev === d) return;
    if (prev) share(prev, -1);
    grads.set(input, d);
    share(d, 1);
  };
  const inPlace = (input: Tensor): Tensor | undefined => {
    const target = targets.get(input);
    if (target) return target;
    const prev = grads.get(input);
    return prev && sharing.get(prev.buffer) === 1 ? prev : undefined;
  };
  const forward = new Set(made.flat());
  const kept = new Set([value, ...(retain?.() ?? [])]);
  // made[i] can be read by node i and the nodes after it, whose backwards have run before its.
  const release = (i: number) => {
    if (!retain) return;
    for (const t of made[i] ?? []) {
      if (t.isDisposed || kept.has(t) || !scoped(t) || sharing.get(t.buffer)) continue;
      t.dispose();
    }
  };
  noGrad(() => {
    const seeded = seed ? seed(value) : full(value, value.shape, 1);
    // A gradient that no other gradient shares, made by a backward (not by fn), goes once added.
    const drop = (d: Tensor) => {
      if (d.isDisposed || d === seeded || forward.has(d) || !scoped(d) || sharing.get(d.buffer)) return;
      d.dispose();
    };
    setGrad(value, seeded);
    for (let i = made.length - 1; i >= nodes.length; i--) release(i);
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i];
      const dOut = grads.get(node.output);
      if (!dOut) {
        release(i);
        continue;
      }
      const into = node.inputs.map(inPlace);
      // What the backward makes besides the gradients it returns is released when it returns.
      const dInputs = tidy(() => node.backward(dOut, into));
      const added: Tensor[] = [];
      node.inputs.forEach((input, j) => {
        const d = dInputs[j];
        if (!d || !input.requiresGrad) return;
        if (d.shape.length !== input.shape.length || d.shape.some((v, k) => v !== input.shape[k])) {
          throw new Error(
            `backward of ${node.op} gave a gradient ${shapeString(d.shape)} for input ${shapeString(input.shape)}`,
          );
        }
        const target = into[j];
        if (d === target) return; // the op added it in place
        if (targets.has(input)) accumulate(targets.get(input) as Tensor, d);
        else if (target) accumulate(target, d);
        else {
          const prev = grads.get(input);
          setGrad(input, prev ? add(prev, d) : d);
          if (prev) added.push(prev);
        }
        added.push(d);
      });
      // The output's gradient is consumed: release it unless another gradient shares its buffer.
      grads.delete(node.output);
      share(dOut, -1);
      if (dOut !== seeded && !sharing.get(dOut.buffer)) dOut.dispose();
      for (const d of added) drop(d);
      release(i);
    }
  });
  if (into) return { value, grads: into };
  return { value, grads: wrt.map((t) => grads.get(t) ?? full(t, t.shape, 0)) };
}
