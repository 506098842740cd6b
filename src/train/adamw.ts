// AdamW (decoupled weight decay where the parameter asked for it: by default matrices yes,
// vectors such as norms, biases and LayerScale gammas no) with global gradient-norm clipping. The whole step is three dispatches over
// the parameter slab: two for the gradient norm, one for the update.
import code from "../../kernels/adamw.wgsl?raw";
import { grid1d, kernel } from "../gpu/kernel";
import { fill } from "../ops/elementwise_kernels";
import type { ParameterStore } from "../tensor/params";
import { keep } from "../tensor/scope";
import { type Slab, Tensor } from "../tensor/tensor";

const PARAMS = {
  n: "u32",
  lr: "f32",
  beta1: "f32",
  beta2: "f32",
  eps: "f32",
  weight_decay: "f32",
  bias_correction1: "f32",
  bias_correction2: "f32",
  max_norm: "f32",
  partials: "u32",
} as const;
const partialKernel = kernel({
  name: "adamw.grad_sumsq_partial",
  file: "adamw.wgsl",
  code,
  entryPoint: "grad_sumsq_partial",
  params: PARAMS,
  bindings: ["g_in", "partial_out"],
});
const finalKernel = kernel({
  name: "adamw.grad_sumsq_final",
  file: "adamw.wgsl",
  code,
  entryPoint: "grad_sumsq_final",
  params: PARAMS,
  bindings: ["partial_in", "stats_out"],
});
const updateKernel = kernel({
  name: "adamw.update",
  file: "adamw.wgsl",
  code,
  entryPoint: "adamw",
  params: PARAMS,
  bindings: ["param", "grad", "m1", "m2", "decay_bits", "stats"],
});

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Clip the global gradient norm to this (0: no clipping). */
  maxGradNorm?: number;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number;
  /** Steps taken (for bias correction); saved in checkpoints. */
  t = 0;
  /** Gradients, one view per parameter in the grad slab; the trainer fills them. */
  readonly grads: Tensor[];
  readonly gradSlab: Slab;
  readonly m: Slab;
  readonly v: Slab;
  /** [sum of squared gradients of the last step]; read asynchronously for metrics. */
  readonly stats: Tensor;
  private decayBits: Tensor;
  private partials: Tensor;
  private moments: Tensor[];

  constructor(
    readonly params: ParameterStore,
    options: AdamWOptions = {},
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.05;
    this.maxGradNorm = options.maxGradNorm ?? 0;
    const gpu = params.gpu;
    const g = params.mirror();
    const m = params.mirror();
    const v = params.mirror();
    this.grads = g.views;
    this.gradSlab = g.slab;
    this.m = m.slab;
    this.v = v.slab;
    this.moments = [...m.views, ...v.views];
    const bits = params.decayMask();
    this.decayBits = keep(Tensor.from(gpu, bits.length ? bits : [0], [Math.max(1, bits.length)], "u32"));
    this.partials = keep(Tensor.empty(gpu, [this.partialCount()]));
    this.stats = keep(Tensor.empty(gpu, [4]));
  }

  private partialCount(): number {
    return Math.min(1024, Math.max(1, Math.ceil(this.params.slab.length / 4096)));
  }

  /** Copies freshly computed gradients (one per parameter, in order) into the grad slab. */
  setGrads(grads: Tensor[]): void {
    grads.forEach((g, i) => {
      this.grads[i].assign(g);
    });
  }

  /** Zeroes the grad slab, for gradients added to it in place (valueAndGrad's `into`). */
  zeroGrads(): void {
    const flat = this.gradSlab.flat();
    fill(flat, 0);
    flat.dispose();
  }

  /** Records one update with learning rate lr. Skipped on the GPU if any gradient is NaN/Inf. */
  step(lr: number): void {
    const gpu = this.params.gpu;
    const n = this.params.slab.length;
    const partials = this.partialCount();
    this.t++;
    const gradFlat = this.gradSlab.flat();
    const paramFlat = this.params.slab.flat();
    const mFlat = this.m.flat();
    const vFlat = this.v.flat();
    // One parameter struct for the three kernels (the norm passes read n and partials only).
    const params = {
      n,
      lr,
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.eps,
      weight_decay: this.weightDecay,
      bias_correction1: 1 - this.beta1 ** this.t,
      bias_correction2: 1 - this.beta2 ** this.t,
      max_norm: this.maxGradNorm,
      partials,
    };
    gpu.dispatch({
      kernel: partialKernel,
      params,
      buffers: { g_in: gradFlat.binding, partial_out: this.partials.binding },
      workgroups: [partials],
    });
    gpu.dispatch({
      kernel: finalKernel,
      params,
      buffers: { partial_in: this.partials.binding, stats_out: this.stats.binding },
      workgroups: [1],
    });
    gpu.dispatch({
      kernel: updateKernel,
      params,
      buffers: {
        param: paramFlat.binding,
        grad: gradFlat.binding,
        m1: mFlat.binding,
        m2: vFlat.binding,
        decay_bits: this.decayBits.binding,
        stats: this.stats.binding,
      },
      workgroups: grid1d(n),
    });
    for (const t of [gradFlat, paramFlat, mFlat, vFlat]) t.dispose();
  }

  /** The global gradient norm of the last step (before clipping); NaN/Inf if it was skipped. */
  async lastGradNorm(): Promise<number> {
    return Math.sqrt((await this.stats.read())[0]);
  }

  dispose(): void {
    for (const t of [...this.grads, ...this.moments, this.decayBits, this.partials, this.stats]) t.dispose();
    this.gradSlab.destroy();
    this.m.destroy();
    this.v.destroy();
  }
}
