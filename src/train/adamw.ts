// AdamW (decoupled weight decay where the parameter asked for it: by default matrices yes,
// vectors such as norms, biases and LayerScale gammas no) with global gradient-norm clipping. The whole step is three dispatches over
// the parameter slab: two for the gradient norm, one for the update.
import code from "../../kernels/adamw.wgsl?raw";
import { f32, grid1d, kernel } from "../gpu/kernel";
import { fill } from "../ops/elementwise";
import type { ParameterStore } from "../tensor/params";
import { keep } from "../tensor/scope";
import { type Slab, Tensor } from "../tensor/tensor";

const partialKernel = kernel("adamw.grad_sumsq_partial", code, "grad_sumsq_partial");
const finalKernel = kernel("adamw.grad_sumsq_final", code, "grad_sumsq_final");
const updateKernel = kernel("adamw.update", code, "adamw");

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
    gpu.dispatch({
      kernel: partialKernel,
      params: [n, f32(0), f32(0), f32(0), f32(0), f32(0), f32(0), f32(0), f32(0), partials],
      buffers: [gradFlat.binding, this.partials.binding],
      workgroups: [partials],
    });
    gpu.dispatch({
      kernel: finalKernel,
      params: [n, f32(0), f32(0), f32(0), f32(0), f32(0), f32(0), f32(0), f32(0), partials],
      buffers: [this.partials.binding, this.stats.binding],
      workgroups: [1],
    });
    gpu.dispatch({
      kernel: updateKernel,
      params: [
        n,
        f32(lr),
        f32(this.beta1),
        f32(this.beta2),
        f32(this.eps),
        f32(this.weightDecay),
        f32(1 - this.beta1 ** this.t),
        f32(1 - this.beta2 ** this.t),
        f32(this.maxGradNorm),
        partials,
      ],
      buffers: [
        paramFlat.binding,
        gradFlat.binding,
        mFlat.binding,
        vFlat.binding,
        this.decayBits.binding,
        this.stats.binding,
      ],
      workgroups: grid1d(n, 256),
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
