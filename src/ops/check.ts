// Checks an op against its float64 reference: forward within tolerance on seeded inputs, and
// its backward against central finite differences of the reference (on a sample of entries), and
// (addedInPlace) the same backward adding its gradients to tensors that already hold values.
// Runs the same in Node (vitest) and in the browser (the app's self-check).
import type { Gpu } from "../gpu/gpu";
import { Rng } from "../tensor/rng";
import { tidy } from "../tensor/scope";
import { type DType, numel, Tensor } from "../tensor/tensor";
import { valueAndGrad } from "./autograd";

export interface InputSpec {
  shape: number[];
  dtype?: DType;
  /** Values: normal (default), positive in [0.5, 2), or integers in [0, int). */
  values?: "normal" | "positive" | { int: number };
  /** Differentiate with respect to this input (f32 inputs only). Default true for f32. */
  grad?: boolean;
}

export interface OpCase {
  name: string;
  inputs: InputSpec[];
  /** Runs the op on the GPU. */
  run(inputs: Tensor[]): Tensor;
  /** The same op in float64 on flat row-major arrays. */
  reference(inputs: Float64Array[]): Float64Array;
  atol?: number;
  rtol?: number;
  /** Tolerances for the gradient check (defaults: 10x the forward ones). */
  gradAtol?: number;
  gradRtol?: number;
  /** Skip the gradient check (ops without a backward, e.g. integer outputs). */
  noGrad?: boolean;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  /** Worst |gpu - ref| / (atol + rtol * |ref|); ok when <= 1. */
  forwardError: number;
  gradError: number | null;
  message: string;
}

const FD_SAMPLES = 24;
const FD_STEP = 1e-5;

function makeInput(spec: InputSpec, rng: Rng): Float64Array {
  const n = numel(spec.shape);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = spec.values ?? "normal";
    if (v === "normal") out[i] = Math.fround(rng.normal());
    else if (v === "positive") out[i] = Math.fround(0.5 + 1.5 * rng.uniform());
    else out[i] = rng.int(v.int);
  }
  return out;
}

/** Worst normalised error, and where it happened. */
export function compare(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number) {
  if (got.length !== want.length) return { error: Number.POSITIVE_INFINITY, at: -1 };
  let error = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const diff = Math.abs(got[i] - want[i]);
    const e = diff === 0 ? 0 : diff / (atol + rtol * Math.abs(want[i])); // exact ops may use zero tolerance
    if (!(e <= error)) {
      error = Number.isNaN(e) ? Number.POSITIVE_INFINITY : e;
      at = i;
    }
  }
  return { error, at };
}

/**
 * The backward again, each gradient now added in place to a tensor that already holds values (as
 * a parameter's gradient slab, or a gradient summed over several uses, receives it: the kernels'
 * accumulate paths): each must come back as what it held plus the gradient of the first pass.
 * Returns the worst error, normalised as the gradient check's.
 */
async function checkInto(
  gpu: Gpu,
  c: OpCase,
  tensors: Tensor[],
  gradInputs: number[],
  seedGrad: Float64Array,
  grads: Float32Array[],
  rng: Rng,
): Promise<{ error: number; message: string }> {
  const held = gradInputs.map((i) => makeInput({ shape: c.inputs[i].shape }, rng));
  const into = gradInputs.map((i, g) => Tensor.from(gpu, held[g], c.inputs[i].shape));
  try {
    tidy(() => {
      valueAndGrad(
        () => c.run(tensors),
        gradInputs.map((i) => tensors[i]),
        (value) => Tensor.from(gpu, seedGrad, value.shape),
        into,
      );
    });
    const sums = await Promise.all(into.map(async (t) => Float32Array.from(await t.read())));
    let worst = { error: 0, message: "" };
    sums.forEach((sum, g) => {
      const added = sum.map((v, k) => v - held[g][k]);
      const r = compare(
        added,
        grads[g],
        c.gradAtol ?? (c.atol ?? 1e-5) * 10,
        c.gradRtol ?? (c.rtol ?? 1e-4) * 10,
      );
      if (!(r.error <= worst.error)) {
        worst = {
          error: Number.isNaN(r.error) ? Number.POSITIVE_INFINITY : r.error,
          message: `; added in place, error ${r.error.toFixed(3)} in input ${gradInputs[g]}[${r.at}] (added ${added[r.at]}, alone ${grads[g][r.at]})`,
        };
      }
    });
    return worst;
  } finally {
    for (const t of into) t.dispose();
  }
}

export interface CheckOptions {
  /** Also check the gradients added in place (checkInto): the unit tests do; the page's quicker self-check does not. */
  addedInPlace?: boolean;
}

export async function checkOp(
  gpu: Gpu,
  c: OpCase,
  seed = 1,
  options: CheckOptions = {},
): Promise<CheckResult> {
  const rng = new Rng(seed);
  const atol = c.atol ?? 1e-5;
  const rtol = c.rtol ?? 1e-4;
  const data = c.inputs.map((s) => makeInput(s, rng));
  const want = c.reference(data);
  const gradInputs = c.noGrad
    ? []
    : c.inputs.flatMap((s, i) => ((s.dtype ?? "f32") === "f32" && s.grad !== false ? [i] : []));
  const seedGrad = new Float64Array(want.length).map(() => Math.fround(rng.normal()));

  const tensors = c.inputs.map((s, i) => Tensor.from(gpu, data[i], s.shape, s.dtype ?? "f32"));
  let got: Float32Array;
  let grads: Float32Array[] = [];
  let intoError: { error: number; message: string } | null = null;
  try {
    const { out, dIn } = tidy(() => {
      if (!gradInputs.length) return { out: c.run(tensors), dIn: [] as Tensor[] };
      const wrt = gradInputs.map((i) => tensors[i]);
      const r = valueAndGrad(
        () => c.run(tensors),
        wrt,
        (value) => Tensor.from(gpu, seedGrad, value.shape),
      );
      return { out: r.value, dIn: r.grads };
    });
    got = Float32Array.from(await out.read());
    grads = await Promise.all(dIn.map(async (t) => Float32Array.from(await t.read())));
    out.dispose();
    for (const t of dIn) t.dispose();
    if (gradInputs.length && options.addedInPlace)
      intoError = await checkInto(gpu, c, tensors, gradInputs, seedGrad, grads, new Rng(seed + 1));
  } finally {
    for (const t of tensors) t.dispose();
  }
  const fwd = compare(got, want, atol, rtol);
  const message0 = `forward error ${fwd.error.toFixed(3)} at ${fwd.at} (gpu ${got[fwd.at]}, ref ${want[fwd.at]})`;
  let gradError: number | null = null;
  let worstGrad = "";
  if (gradInputs.length) {
    gradError = 0;
    const gAtol = c.gradAtol ?? atol * 10;
    const gRtol = c.gradRtol ?? rtol * 10;
    const loss = (inputs: Float64Array[]) => {
      const y = c.reference(inputs);
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i] * seedGrad[i];
      return s;
    };
    gradInputs.forEach((inputIndex, g) => {
      const x = data[inputIndex];
      const picks =
        x.length <= FD_SAMPLES ? [...x.keys()] : [...Array(FD_SAMPLES)].map(() => rng.int(x.length));
      for (const k of picks) {
        const orig = x[k];
        const h = FD_STEP * Math.max(1, Math.abs(orig));
        x[k] = orig + h;
        const up = loss(data);
        x[k] = orig - h;
        const down = loss(data);
        x[k] = orig;
        const fd = (up - down) / (2 * h);
        const e = Math.abs(grads[g][k] - fd) / (gAtol + gRtol * Math.abs(fd));
        if (!(e <= (gradError as number))) {
          gradError = Number.isNaN(e) ? Number.POSITIVE_INFINITY : e;
          worstGrad = `; grad error ${e.toFixed(3)} in input ${inputIndex}[${k}] (gpu ${grads[g][k]}, fd ${fd})`;
        }
      }
    });
  }
  if (intoError && gradError !== null && !(intoError.error <= gradError)) {
    gradError = intoError.error;
    worstGrad = intoError.message;
  }
  const message = message0 + worstGrad;
  const ok = fwd.error <= 1 && (gradError === null || gradError <= 1);
  return { name: c.name, ok, forwardError: fwd.error, gradError, message };
}
