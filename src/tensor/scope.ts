// Deterministic release: tidy(fn) disposes every tensor created while fn runs, except those it
// returns (or keep()s). Scopes nest; fn must be synchronous (record GPU work, don't await).
import type { Tensor } from "./tensor";

const stack: Set<Tensor>[] = [];

export function track(t: Tensor): void {
  stack[stack.length - 1]?.add(t);
}

/** Removes tensors from every open scope, so the caller owns them (and must dispose them). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
}

/** Whether an open scope owns the tensor (false once keep() gave it to its caller). */
export function scoped(t: Tensor): boolean {
  return stack.some((s) => s.has(t));
}

function collect(value: unknown, out: Set<Tensor>): void {
  if (value === null || typeof value !== "object") return;
  if ((value as Tensor).dispose && (value as Tensor).shape) {
    out.add(value as Tensor);
    return;
  }
  for (const v of Array.isArray(value) ? value : Object.values(value)) collect(v, out);
}

export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    stack.pop();
  }
  if (result instanceof Promise) throw new Error("tidy(): the function must be synchronous");
  const returned = new Set<Tensor>();
  collect(result, returned);
  for (const t of scope) {
    if (returned.has(t)) stack[stack.length - 1]?.add(t);
    else t.dispose();
  }
  return result;
}
