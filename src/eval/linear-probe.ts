// Linear probes on frozen features, trained on the GPU by our own engine: one Linear layer in a
// ParameterStore, softmax cross-entropy (through the logSoftmax op) or mean squared error,
// AdamW with a cosine learning-rate decay to 0, a fixed number of steps, seeded. Features are
// standardised per dimension with the training set's mean and standard deviation (float64), and
// regression targets likewise, so that one learning rate suits every encoder.
import type { Gpu } from "../gpu/gpu";
import { Linear } from "../nn/linear";
import { valueAndGrad } from "../ops/autograd";
import { mul, scale, sub } from "../ops/elementwise";
import { mean, sum } from "../ops/reduce";
import { logSoftmax } from "../ops/softmax";
import { ParameterStore } from "../tensor/params";
import { Rng } from "../tensor/rng";
import { keep, tidy } from "../tensor/scope";
import { noGrad } from "../tensor/tape";
import { Tensor } from "../tensor/tensor";
import { AdamW } from "../train/adamw";

export interface ProbeOptions {
  /** Optimisation steps (default 300). */
  steps?: number;
  /** Peak AdamW learning rate, decayed to 0 on a cosine (default 0.02). */
  lr?: number;
  /** AdamW decoupled weight decay on the weight matrix, not the bias (default 1e-4). */
  weightDecay?: number;
  /** Rows per step: the whole training set when it has at most this many (default 4096). */
  batch?: number;
  /** Seeds the initial weights and the minibatch order (default 0). */
  seed?: number;
}

const DEFAULTS: Required<ProbeOptions> = { steps: 300, lr: 0.02, weightDecay: 1e-4, batch: 4096, seed: 0 };

/** Per-dimension mean and 1/std of the training rows (float64); constant dimensions get 0. */
class Standardizer {
  readonly mean: Float64Array;
  readonly invStd: Float64Array;

  constructor(
    x: ArrayLike<number>,
    readonly dim: number,
  ) {
    const n = x.length / dim;
    this.mean = new Float64Array(dim);
    this.invStd = new Float64Array(dim);
    for (let r = 0; r < n; r++) for (let j = 0; j < dim; j++) this.mean[j] += x[r * dim + j];
    for (let j = 0; j < dim; j++) this.mean[j] /= Math.max(1, n);
    const sq = new Float64Array(dim);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < dim; j++) {
        const d = x[r * dim + j] - this.mean[j];
        sq[j] += d * d;
      }
    }
    for (let j = 0; j < dim; j++) {
      const std = Math.sqrt(sq[j] / Math.max(1, n));
      this.invStd[j] = std > 1e-12 * (1 + Math.abs(this.mean[j])) ? 1 / std : 0;
    }
  }

  /** Standardised copies of rows [start, end) of x. */
  apply(x: ArrayLike<number>, start = 0, end = x.length / this.dim): Float32Array {
    const d = this.dim;
    const out = new Float32Array((end - start) * d);
    for (let r = start; r < end; r++) {
      for (let j = 0; j < d; j++) out[(r - start) * d + j] = (x[r * d + j] - this.mean[j]) * this.invStd[j];
    }
    return out;
  }
}

function checkRows(features: ArrayLike<number>, dim: number, targets: number, what: string): number {
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`${what}: bad feature dimension ${dim}`);
  if (features.length % dim !== 0)
    throw new Error(`${what}: ${features.length} values are not rows of ${dim}`);
  const n = features.length / dim;
  if (n === 0) throw new Error(`${what}: no training rows`);
  if (targets !== n) throw new Error(`${what}: ${targets} targets for ${n} rows`);
  return n;
}

/** A trained linear layer on the GPU; predict() standardises features as in training. */
abstract class LinearProbe {
  /** Loss of the last training step (cross-entropy in nats, or MSE of standardised targets). */
  trainLoss = Number.NaN;
  protected readonly params: ParameterStore;
  protected readonly linear: Linear;
  protected readonly standardizer: Standardizer;

  protected constructor(
    readonly gpu: Gpu,
    features: ArrayLike<number>,
    readonly dim: number,
    readonly outputs: number,
    seed: number,
  ) {
    this.standardizer = new Standardizer(features, dim);
    this.params = new ParameterStore(gpu);
    this.linear = new Linear(this.params, "probe", dim, outputs, new Rng(seed));
  }

  /** Runs the optimisation; `loss(output, targets)` is the scalar to minimise. */
  protected async train(
    features: ArrayLike<number>,
    targets: Float32Array,
    loss: (out: Tensor, targets: Tensor) => Tensor,
    options: ProbeOptions,
  ): Promise<void> {
    const o = { ...DEFAULTS, ...options };
    if (!Number.isInteger(o.steps) || o.steps < 1)
      throw new Error(`probe: steps must be >= 1, got ${o.steps}`);
    if (!Number.isInteger(o.batch) || o.batch < 1)
      throw new Error(`probe: batch must be >= 1, got ${o.batch}`);
    const gpu = this.gpu;
    const d = this.dim;
    const t = targets.length / (features.length / d); // targets per row
    const n = features.length / d;
    const fullBatch = n <= o.batch;
    const x = this.standardizer.apply(features);
    // The whole training set stays on the GPU when it is one batch; otherwise each step uploads
    // its rows (so a training set larger than one storage buffer works).
    const xAll = fullBatch ? Tensor.from(gpu, x, [n, d]) : null;
    const yAll = fullBatch ? Tensor.from(gpu, targets, [n, t]) : null;
    const rng = new Rng(o.seed).fork();
    const order = Int32Array.from({ length: n }, (_, i) => i);
    let cursor = n;
    const rows = Math.min(n, o.batch);
    const xb = new Float32Array(rows * d);
    const yb = new Float32Array(rows * t);
    const optimizer = new AdamW(this.params, { weightDecay: o.weightDecay });
    let last: Tensor | null = null;
    try {
      for (let step = 0; step < o.steps; step++) {
        const lr = 0.5 * o.lr * (1 + Math.cos((Math.PI * step) / o.steps));
        if (!fullBatch) {
          for (let r = 0; r < rows; r++) {
            if (cursor === n) {
              for (let i = n - 1; i > 0; i--) {
                const j = rng.int(i + 1);
                [order[i], order[j]] = [order[j], order[i]];
              }
              cursor = 0;
            }
            const i = order[cursor++];
            xb.set(x.subarray(i * d, (i + 1) * d), r * d);
            yb.set(targets.subarray(i * t, (i + 1) * t), r * t);
          }
        }
        last?.dispose();
        last = tidy(() => {
          const xs = xAll ?? Tensor.from(gpu, xb, [rows, d]);
          const ys = yAll ?? Tensor.from(gpu, yb, [rows, t]);
          const { value, grads } = valueAndGrad(() => loss(this.linear.forward(xs), ys), this.params.tensors);
          optimizer.setGrads(grads);
          optimizer.step(lr);
          return keep(value);
        });
        gpu.flush();
      }
      this.trainLoss = ((await (last as Tensor).read()) as Float32Array)[0];
    } finally {
      last?.dispose();
      xAll?.dispose();
      yAll?.dispose();
      optimizer.dispose();
    }
  }

  /** Raw outputs [N, outputs] for feature rows [N, dim], in chunks that fit one storage buffer. */
  protected async outputsOf(features: ArrayLike<number>): Promise<Float32Array> {
    const d = this.dim;
    if (features.length % d !== 0) throw new Error(`probe: ${features.length} values are not rows of ${d}`);
    const n = features.length / d;
    const limit = this.gpu.info.limits.maxStorageBufferBindingSize ?? 1 << 27;
    const chunk = Math.max(1, Math.min(65536, Math.floor(limit / 4 / Math.max(d, this.outputs))));
    const out = new Float32Array(n * this.outputs);
    for (let start = 0; start < n; start += chunk) {
      const end = Math.min(n, start + chunk);
      const y = noGrad(() =>
        tidy(() =>
          this.linear.forward(
            Tensor.from(this.gpu, this.standardizer.apply(features, start, end), [end - start, d]),
          ),
        ),
      );
      out.set((await y.read()) as Float32Array, start * this.outputs);
      y.dispose();
    }
    return out;
  }

  dispose(): void {
    this.params.dispose();
  }
}

/** A linear softmax classifier: fit with fitClassifier, labels from predict. */
export class LinearClassifier extends LinearProbe {
  private constructor(gpu: Gpu, features: ArrayLike<number>, dim: number, classes: number, seed: number) {
    super(gpu, features, dim, classes, seed);
  }

  /**
   * Trains on feature rows [N, dim] with integer labels in [0, classes): mean softmax
   * cross-entropy, -mean_n sum_c onehot[n, c] * logSoftmax(W x_n + b)[c].
   */
  static async fit(
    gpu: Gpu,
    features: ArrayLike<number>,
    labels: ArrayLike<number>,
    dim: number,
    classes: number,
    options: ProbeOptions = {},
  ): Promise<LinearClassifier> {
    const n = checkRows(features, dim, labels.length, "LinearClassifier");
    if (!Number.isInteger(classes) || classes < 2) throw new Error(`LinearClassifier: ${classes} classes`);
    const onehot = new Float32Array(n * classes);
    for (let i = 0; i < n; i++) {
      const c = labels[i];
      if (!Number.isInteger(c) || c < 0 || c >= classes)
        throw new Error(`LinearClassifier: label ${c} of row ${i} is outside [0, ${classes})`);
      onehot[i * classes + c] = 1;
    }
    const probe = new LinearClassifier(gpu, features, dim, classes, options.seed ?? DEFAULTS.seed);
    try {
      await probe.train(
        features,
        onehot,
        (logits, y) => scale(sum(mul(y, logSoftmax(logits))), -1 / logits.shape[0]),
        options,
      );
    } catch (err) {
      probe.dispose();
      throw err;
    }
    return probe;
  }

  /** Class scores (logits) [N, classes]. */
  logits(features: ArrayLike<number>): Promise<Float32Array> {
    return this.outputsOf(features);
  }

  /** The arg-max class of each row (the lower class on ties). */
  async predict(features: ArrayLike<number>): Promise<Int32Array> {
    const z = await this.outputsOf(features);
    const c = this.outputs;
    const out = new Int32Array(z.length / c);
    for (let i = 0; i < out.length; i++) {
      let best = 0;
      for (let k = 1; k < c; k++) if (z[i * c + k] > z[i * c + best]) best = k;
      out[i] = best;
    }
    return out;
  }
}

/** A linear regression of one scalar: fit with fitRegressor. */
export class LinearRegressor extends LinearProbe {
  private targetMean = 0;
  private targetStd = 1;

  private constructor(gpu: Gpu, features: ArrayLike<number>, dim: number, seed: number) {
    super(gpu, features, dim, 1, seed);
  }

  /** Trains on feature rows [N, dim] and targets [N]: mean squared error of standardised targets. */
  static async fit(
    gpu: Gpu,
    features: ArrayLike<number>,
    targets: ArrayLike<number>,
    dim: number,
    options: ProbeOptions = {},
  ): Promise<LinearRegressor> {
    const n = checkRows(features, dim, targets.length, "LinearRegressor");
    const probe = new LinearRegressor(gpu, features, dim, options.seed ?? DEFAULTS.seed);
    let m = 0;
    for (let i = 0; i < n; i++) m += targets[i];
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (targets[i] - m) ** 2;
    const std = Math.sqrt(v / n);
    probe.targetMean = m;
    probe.targetStd = std > 0 ? std : 1;
    const y = Float32Array.from(targets, (value) => (value - m) / probe.targetStd);
    try {
      await probe.train(
        features,
        y,
        (pred, t) => {
          const diff = sub(pred, t);
          return mean(mul(diff, diff));
        },
        options,
      );
    } catch (err) {
      probe.dispose();
      throw err;
    }
    return probe;
  }

  /** Predicted targets [N], in the targets' units. */
  async predict(features: ArrayLike<number>): Promise<Float32Array> {
    const z = await this.outputsOf(features);
    return z.map((value) => value * this.targetStd + this.targetMean);
  }
}
