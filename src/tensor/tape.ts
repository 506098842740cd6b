// The autograd tape. Ops record one node per call while a tape is active and an input needs a
// gradient; autograd.ts walks the nodes backwards. Nodes are coarse (a whole matmul, a whole
// layernorm), each with its backward written next to its forward in src/ops. The tape sees a
// tensor as Differentiable, all it needs of one (tensor.ts notes each new Tensor here).
import { tidy } from "./scope";

/** A tensor as the tape sees it. */
export interface Differentiable {
  requiresGrad: boolean;
}

export interface TapeNode<T extends Differentiable = Differentiable> {
  op: string;
  inputs: T[];
  output: T;
  /**
   * Gradients of the inputs given the output's gradient (null: no gradient for that input).
   * into[j], where given, is a gradient tensor of input j's shape that the op may add input j's
   * gradient to in place (a kernel with beta = 1); it then returns into[j] itself.
   */
  backward(dOut: T, into: (T | undefined)[]): (T | null)[];
}

let active: TapeNode[] | null = null;
// The tensors made while a tape records (under noGrad too), by the number of nodes recorded
// before each: made[i] can be read only by node i and later ones. With release, each noGrad
// releases what it made and does not return (nothing records what a noGrad makes).
let making: { nodes: TapeNode[]; made: Differentiable[][]; release: boolean } | null = null;

export function recording(): boolean {
  return active !== null;
}

/** Called by ops after their forward: records how to differentiate it, if anything needs it. */
export function record<T extends Differentiable>(
  op: string,
  inputs: T[],
  output: T,
  backward: TapeNode<T>["backward"],
): T {
  if (active && inputs.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    active.push({ op, inputs, output, backward });
  }
  return output;
}

/** Called by every new Tensor: notes it on the tape being recorded, if any. */
export function made(t: Differentiable): void {
  if (!making) return;
  const i = making.nodes.length;
  while (making.made.length <= i) making.made.push([]);
  making.made[i].push(t);
}

export interface Recorded<R, T extends Differentiable> {
  result: R;
  nodes: TapeNode<T>[];
  /** made[i]: the tensors made after node i - 1 was recorded and before node i was. */
  made: T[][];
}

/**
 * Runs fn with a fresh tape and returns its result, the recorded nodes and the tensors made, as
 * T (the one tensor type that ops record and create: Tensor).
 * With release, a noGrad inside fn releases the tensors it made but does not return.
 */
export function withTape<R, T extends Differentiable>(fn: () => R, release = false): Recorded<R, T> {
  const outer = active;
  const outerMaking = making;
  const nodes: TapeNode<T>[] = [];
  const tensors: T[][] = [];
  active = nodes;
  making = { nodes, made: tensors, release };
  try {
    return { result: fn(), nodes, made: tensors };
  } finally {
    active = outer;
    making = outerMaking;
  }
}

/** Runs fn without recording (inference, EMA updates, metrics). */
export function noGrad<T>(fn: () => T): T {
  const outer = active;
  active = null;
  try {
    return making?.release ? tidy(fn) : fn();
  } finally {
    active = outer;
  }
}
