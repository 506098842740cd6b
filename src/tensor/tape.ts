// The autograd tape. Ops record one node per call while a tape is active and an input needs a
// gradient; autograd.ts walks the nodes backwards. Nodes are coarse (a whole matmul, a whole
// layernorm), each with its backward written next to its forward in src/ops.
import type { Tensor } from "./tensor";

export interface TapeNode {
  op: string;
  inputs: Tensor[];
  output: Tensor;
  /**
   * Gradients of the inputs given the output's gradient (null: no gradient for that input).
   * into[j], where given, is a gradient tensor of input j's shape that the op may add input j's
   * gradient to in place (a kernel with beta = 1); it then returns into[j] itself.
   */
  backward(dOut: Tensor, into: (Tensor | undefined)[]): (Tensor | null)[];
}

let active: TapeNode[] | null = null;

export function recording(): boolean {
  return active !== null;
}

/** Called by ops after their forward: records how to differentiate it, if anything needs it. */
export function record(op: string, inputs: Tensor[], output: Tensor, backward: TapeNode["backward"]): Tensor {
  if (active && inputs.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    active.push({ op, inputs, output, backward });
  }
  return output;
}

/** Runs fn with a fresh tape and returns its result and the recorded nodes. */
export function withTape<T>(fn: () => T): { result: T; nodes: TapeNode[] } {
  const outer = active;
  const nodes: TapeNode[] = [];
  active = nodes;
  try {
    return { result: fn(), nodes };
  } finally {
    active = outer;
  }
}

/** Runs fn without recording (inference, EMA updates, metrics). */
export function noGrad<T>(fn: () => T): T {
  const outer = active;
  active = null;
  try {
    return fn();
  } finally {
    active = outer;
  }
}
