// Deterministic release: tidy(fn) disposes every tensor created while fn runs, except those it
// returns (or keep()s). Scopes nest; fn must be synchronous (record GPU work, don't await).
// Scopes hold tensors as Scoped, which is all they need of them (tensor.ts registers each Tensor).

/** A tensor as a scope sees it: something with a shape that can be disposed. */
export interface Scoped {
  readonly shape: readonly number[];
  dispose(): void;
}

const stack: Set<Scoped>[] = [];

export function track(t: Scoped): void {
  stack[stack.length - 1]?.add(t);
}

/** Removes tensors from every open scope, so the caller owns them (and must dispose them). */
export function keep<T extends Scoped>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
}

/** Whether an open scope owns the tensor (false once keep() gave it to its caller). */
export function scoped(t: Scoped): boolean {
  return stack.some((s) => s.has(t));
}

function collect(value: unknown, out: Set<Scoped>): void {
  if (value === null || typeof value !== "object") return;
  if ((value as Scoped).dispose && (value as Scoped).shape) {
    out.add(value as Scoped);
    return;
  }
  for (const v of Array.isArray(value) ? value : Object.values(value)) collect(v, out);
}

export function tidy<T>(fn: () => T): T {
  const scope = new Set<Scoped>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    stack.pop();
  }
  if (result instanceof Promise) throw new Error("tidy(): the function must be synchronous");
  const returned = new Set<Scoped>();
  collect(result, returned);
  for (const t of scope) {
    if (returned.has(t)) stack[stack.length - 1]?.add(t);
    else t.dispose();
  }
  return result;
}
