// Float64 references of the peers benchmark's MLP training step, and the comparison that every
// library's result goes through before its time counts.

export interface MlpShape {
  tokens: number;
  width: number;
  hidden: number;
}

/** Parameters and data of one MLP step, row-major: w1 [width, hidden], w2 [hidden, width]. */
export interface MlpHost {
  x: Float32Array;
  target: Float32Array;
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
}

export const MLP_PARAMS = ["w1", "b1", "w2", "b2"] as const;

/** Deterministic values in [-scale, scale), different per seed. */
export function hostValues(count: number, seed: number, scale = 0.5): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (((i * 7919 + seed * 104729) % 1000) / 1000 - 0.5) * 2 * scale;
  return out;
}

export function mlpHost(s: MlpShape): MlpHost {
  const { tokens, width, hidden } = s;
  return {
    x: hostValues(tokens * width, 1),
    target: hostValues(tokens * width, 2),
    w1: hostValues(width * hidden, 3, 1 / Math.sqrt(width)),
    b1: hostValues(hidden, 4, 0.1),
    w2: hostValues(hidden * width, 5, 1 / Math.sqrt(hidden)),
    b2: hostValues(width, 6, 0.1),
  };
}

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), as the kernels compute it.
export function erf(x: number): number {
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-a * a);
  return Math.sign(x) * y;
}

/**
 * One SGD step of y = gelu(x w1 + b1) w2 + b2 (exact GELU), loss = mean((y - target)^2), in
 * float64: the loss before the step and the parameters after it.
 */
export function mlpStepReference(s: MlpShape, h: MlpHost, lr: number) {
  const { tokens: T, width: D, hidden: H } = s;
  const z = new Float64Array(T * H);
  const act = new Float64Array(T * H);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < H; j++) z[i * H + j] = h.b1[j];
    for (let t = 0; t < D; t++) {
      const xv = h.x[i * D + t];
      for (let j = 0; j < H; j++) z[i * H + j] += xv * h.w1[t * H + j];
    }
    for (let j = 0; j < H; j++) {
      const v = z[i * H + j];
      act[i * H + j] = 0.5 * v * (1 + erf(v / Math.SQRT2));
    }
  }
  const dy = new Float64Array(T * D);
  let loss = 0;
  for (let i = 0; i < T; i++) {
    const y = Float64Array.from(h.b2);
    for (let t = 0; t < H; t++) {
      const a = act[i * H + t];
      for (let j = 0; j < D; j++) y[j] += a * h.w2[t * D + j];
    }
    for (let j = 0; j < D; j++) {
      const d = y[j] - h.target[i * D + j];
      loss += d * d;
      dy[i * D + j] = (2 * d) / (T * D);
    }
  }
  loss /= T * D;
  const dw2 = new Float64Array(H * D);
  const db2 = new Float64Array(D);
  const dz = new Float64Array(T * H);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < D; j++) db2[j] += dy[i * D + j];
    for (let t = 0; t < H; t++) {
      const a = act[i * H + t];
      let da = 0;
      for (let j = 0; j < D; j++) {
        dw2[t * D + j] += a * dy[i * D + j];
        da += dy[i * D + j] * h.w2[t * D + j];
      }
      const v = z[i * H + t];
      const gelu = 0.5 * (1 + erf(v / Math.SQRT2)) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI);
      dz[i * H + t] = da * gelu;
    }
  }
  const dw1 = new Float64Array(D * H);
  const db1 = new Float64Array(H);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < H; j++) db1[j] += dz[i * H + j];
    for (let t = 0; t < D; t++) {
      const xv = h.x[i * D + t];
      for (let j = 0; j < H; j++) dw1[t * H + j] += xv * dz[i * H + j];
    }
  }
  const grads = { w1: dw1, b1: db1, w2: dw2, b2: db2 };
  const after = Object.fromEntries(
    MLP_PARAMS.map((name) => [name, Float64Array.from(h[name], (p, i) => p - lr * grads[name][i])]),
  ) as Record<(typeof MLP_PARAMS)[number], Float64Array>;
  return { loss, after };
}

const ULP = 2 ** -23;

/**
 * Compares updated parameters with float64: the step each made (before - after) against the
 * reference's, within 0.1% of the largest step plus the float32 rounding of the parameters.
 */
export function checkMlpStep(
  host: MlpHost,
  want: ReturnType<typeof mlpStepReference>,
  gotLoss: number,
  got: Record<(typeof MLP_PARAMS)[number], ArrayLike<number>>,
): string | null {
  if (!(Math.abs(gotLoss - want.loss) <= 1e-4 * want.loss + 1e-7))
    return `wrong loss ${gotLoss}, float64 gives ${want.loss}`;
  for (const name of MLP_PARAMS) {
    const before = host[name];
    let largestStep = 0;
    let largest = 0;
    for (let i = 0; i < before.length; i++) {
      largestStep = Math.max(largestStep, Math.abs(before[i] - want.after[name][i]));
      largest = Math.max(largest, Math.abs(before[i]));
    }
    const tolerance = 1e-3 * largestStep + 4 * ULP * largest;
    for (let i = 0; i < before.length; i++) {
      if (!(Math.abs(got[name][i] - want.after[name][i]) <= tolerance))
        return `wrong ${name} after the step at ${i}: ${got[name][i]}, float64 gives ${want.after[name][i]}`;
    }
  }
  return null;
}
