// The only object the rest of the engine uses to reach WebGPU: allocate, release, upload,
// dispatch, flush, read. Dispatches are recorded into one command encoder (one compute pass)
// and submitted together by flush(), or when something must leave the GPU (a read). Each
// dispatch's parameters go to a uniform arena at a dynamic offset, so its bind group (explicit
// layout, layout.ts) is made once per set of buffers and reused by every later step.

import bufferCopyCode from "../../kernels/buffer_copy.wgsl?raw";
import { type AcquiredDevice, acquireDevice, browserGpu, type DeviceInfo } from "./device";
import { DeviceLostError, GpuError, KernelError } from "./errors";
import {
  grid1d,
  type Kernel,
  kernel,
  PARAM_SLOT,
  type ParamTypes,
  type ParamValues,
  packParams,
} from "./kernel";
import { type KernelLayout, kernelLayout, layoutEntries } from "./layout";
import { BufferPool, bufferId, sizeClass } from "./pool";
import { Profiler } from "./profiler";
import { nameSourceLines, sourceLine } from "./wgsl-lib";

const ARENA_BYTES = 1 << 20; // uniform parameters for up to 4096 dispatches per submission
const MAP_READ = 0x0001;
const bufferCopyKernel = kernel({
  name: "buffer_copy",
  file: "buffer_copy.wgsl",
  code: bufferCopyCode,
  params: { n: "u32", src_base: "u32", dst_base: "u32" },
  bindings: ["src", "dst"],
});
const COPY_DST = 0x0008;
const UNIFORM = 0x0040;

/** Buffers (or ranges of them, e.g. tensor.binding) by the kernel's binding names. */
export type DispatchBuffers<B extends string> = { readonly [K in B]: GPUBuffer | GPUBufferBinding };

export type DispatchArgs<P extends ParamTypes, B extends string> = {
  kernel: Kernel<P, B>;
  /** Values for the kernel's WGSL `override` constants. */
  constants?: Record<string, number>;
  buffers: DispatchBuffers<B>;
  workgroups: [number, number?, number?];
} & (keyof P extends never
  ? { params?: undefined }
  : {
      /** The uniform struct at binding 0, by the kernel's parameter names. */
      params: ParamValues<P>;
    });

interface Layout {
  id: number;
  kernel: KernelLayout;
  group: GPUBindGroupLayout;
  pipeline: GPUPipelineLayout;
}

interface Pipeline {
  pipeline: GPUComputePipeline;
  layout: Layout;
}

/**
 * A kernel's pipelines by the names and values of its override constants, in the order a dispatch
 * lists them: one map lookup per name and per value, no key string built per dispatch.
 */
interface Variants {
  pipeline: Pipeline | null;
  next: Map<string, Map<number, Variants>>;
}

/** A bind group made for a layout and buffer ranges (size -1: to the buffer's end). */
interface BindGroupEntry {
  group: GPUBindGroup;
  hash: number;
  layout: number;
  buffers: GPUBuffer[];
  offsets: number[];
  sizes: number[];
}

export interface GpuOptions {
  /** A WebGPU implementation; defaults to navigator.gpu. Node passes dawnGpu(). */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Pretend the adapter lacks these features (tests of the fallback paths). */
  disabledFeatures?: GPUFeatureName[];
  /**
   * Which kind of device the kernels are shaped for: by default "cpu" on a fallback (CPU) adapter
   * such as SwiftShader, "gpu" on any other. On "cpu" the products read straight from storage
   * (kernels/matmul.wgsl's `direct`, a B loaded through a layernorm or activation written out
   * first), attention holds more rows a thread in workgroups fitted to the sequence
   * (src/ops/attention.ts), and the row kernels start at 4 threads (src/ops/rows.ts); the list is
   * in docs/architecture.md. Tests name each to check both on one adapter.
   */
  kernelTarget?: KernelTarget;
  /**
   * Dry run: every call is recorded and submitted as usual, but each dispatch runs no workgroups,
   * so only the CPU's side of the work costs time (`npm run bench -- counts`). Results are garbage.
   */
  dry?: boolean;
}

/** What the engine has recorded since the Gpu was made; deterministic for a given job. */
export interface GpuCounts {
  dispatches: number;
  bindGroups: number;
  passes: number;
  /** Buffer-to-buffer copies (copyBufferToBuffer), readbacks included. */
  copies: number;
  /** queue.writeBuffer calls. */
  writes: number;
  submits: number;
  /** Compute pipelines created (each compiled on first use; a fresh Gpu compiles a step's all). */
  pipelines: number;
}

/** The kind of device that kernels with a choice are shaped for (GpuOptions.kernelTarget). */
export type KernelTarget = "gpu" | "cpu";

export class Gpu {
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
  readonly info: DeviceInfo;
  readonly kernelTarget: KernelTarget;
  readonly pool: BufferPool;
  readonly profiler: Profiler | null;
  /** A small read-only buffer for bindings a kernel variant does not read. */
  readonly dummy: GPUBuffer;
  readonly dry: boolean;
  readonly counts: GpuCounts = {
    dispatches: 0,
    bindGroups: 0,
    passes: 0,
    copies: 0,
    writes: 0,
    submits: 0,
    pipelines: 0,
  };

  private modules = new Map<string, GPUShaderModule>();
  private pipelines = new Map<Kernel, Variants>();
  // Explicit bind group layouts, shared by the kernels whose bindings have the same kinds.
  private layouts = new Map<string, Layout>();
  // Bind groups by a hash of their layout and buffer ranges (compared in full on a hit), made once
  // and reused; byBuffer lists those that bind each buffer, so that a destroyed buffer's bind
  // groups are forgotten.
  private bindGroups = new Map<number, BindGroupEntry[]>();
  private bindGroupCount = 0;
  private byBuffer = new Map<GPUBuffer, BindGroupEntry[]>();
  // The dispatch's buffer ranges, unpacked once for the hash and the comparison.
  private bound: { buffers: GPUBuffer[]; offsets: number[]; sizes: number[] } = {
    buffers: [],
    offsets: [],
    sizes: [],
  };
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private arena: GPUBuffer;
  private arenaCpu = new ArrayBuffer(ARENA_BYTES);
  private arenaView = new DataView(this.arenaCpu);
  private arenaUsed = 0;
  // A plain array: Dawn takes it faster than the (Uint32Array, start, length) form.
  private dynamicOffset = [0];
  private staging = new Map<number, GPUBuffer[]>();
  private uploads = new Map<number, GPUBuffer[]>();
  private uploadsInFlight: GPUBuffer[] = [];
  private errors: Error[] = [];
  private lost: DeviceLostError | null = null;
  private destroyed = false;

  static async create(options: GpuOptions = {}): Promise<Gpu> {
    const gpu = options.gpu ?? browserGpu();
    const device = await acquireDevice(gpu, { ...options, browser: !options.gpu });
    const kernelTarget = options.kernelTarget ?? (device.info.fallback ? "cpu" : "gpu");
    return new Gpu(gpu, device, options.dry ?? false, kernelTarget);
  }

  private constructor(
    // Dawn in Node destroys its instance when the GPU object is garbage collected, which
    // crashes later calls: the Gpu keeps it (and the adapter) alive for the device's lifetime.
    readonly implementation: GPU,
    { device, adapter, info }: AcquiredDevice,
    dry: boolean,
    kernelTarget: KernelTarget,
  ) {
    this.dry = dry;
    this.kernelTarget = kernelTarget;
    this.adapter = adapter;
    this.device = device;
    this.info = info;
    this.pool = new BufferPool(device, (buffer) => {
      // Work recorded but not submitted may use the buffer: submitted first, it still runs.
      if (this.encoder && !this.lost) this.flush();
      this.forget(buffer);
    });
    this.arena = device.createBuffer({ size: ARENA_BYTES, usage: UNIFORM | COPY_DST });
    this.dummy = device.createBuffer({ size: 16, usage: 0x80 });
    this.profiler = device.features.has("timestamp-query") ? new Profiler(device) : null;
    device.onuncapturederror = (ev) => {
      this.errors.push(new GpuError(ev.error.message));
    };
    device.lost.then((info) => {
      if (this.destroyed) return;
      this.lost = new DeviceLostError(info.reason, info.message || "no message from the driver");
    });
  }

  has(feature: GPUFeatureName): boolean {
    return this.device.features.has(feature);
  }

  /** Throws the first error the device reported since the last check (or the loss). */
  checkErrors(): void {
    if (this.lost) throw this.lost;
    // A kernel's own compile error explains the "invalid pipeline" errors that follow it.
    const err = this.errors.find((e) => e instanceof KernelError) ?? this.errors[0];
    if (err) {
      this.errors.length = 0;
      throw err;
    }
  }

  // ---- memory ----

  alloc(bytes: number): GPUBuffer {
    if (this.lost) throw this.lost;
    return this.pool.acquire(bytes);
  }

  release(buffer: GPUBuffer): void {
    this.pool.release(buffer);
  }

  /**
   * Copies data into a buffer in stream order (dispatches recorded before it see the old data).
   * While a step is being recorded the data goes to an upload buffer and a copy kernel moves it,
   * so that the step stays one submission and one compute pass.
   */
  write(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    if (this.lost) throw this.lost;
    // Room for the copy's parameters first: a flush between the upload and its copy would free
    // the upload buffer for another write before the copy has read it.
    if (this.arenaUsed + PARAM_SLOT > ARENA_BYTES) this.flush();
    const aligned = offset % 4 === 0 && data.byteLength % 4 === 0;
    if (this.encoder && aligned && data.byteLength > 0) {
      const upload = this.takeUpload(data.byteLength);
      this.device.queue.writeBuffer(upload, 0, data.buffer, data.byteOffset, data.byteLength);
      this.counts.writes++;
      this.copy(upload, buffer, data.byteLength, 0, offset);
      return;
    }
    if (this.encoder) this.flush();
    this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
    this.counts.writes++;
  }

  /**
   * Copies bytes between buffers in stream order (after the dispatches recorded so far), with a
   * copy kernel inside the compute pass; only a copy within one buffer, or of unaligned bytes,
   * ends the pass for a copyBufferToBuffer.
   */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    if (this.lost) throw this.lost;
    const limit = this.device.limits.maxStorageBufferBindingSize;
    const words = (srcOffset | dstOffset | bytes) % 4 === 0;
    if (src !== dst && words && src.size <= limit && dst.size <= limit) {
      if (bytes === 0) return;
      this.dispatch({
        kernel: bufferCopyKernel,
        params: { n: bytes / 4, src_base: srcOffset / 4, dst_base: dstOffset / 4 },
        buffers: { src, dst },
        workgroups: grid1d(bytes / 4),
      });
      return;
    }
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.counts.copies++;
  }

  /** An upload buffer that nothing recorded reads: written now, read by this submission only. */
  private takeUpload(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const buffer = this.uploads.get(size)?.pop() ?? this.pool.createUnpooled(size);
    this.uploadsInFlight.push(buffer);
    return buffer;
  }

  // ---- kernels ----

  private layout(k: Kernel): Layout {
    const kernel = kernelLayout(k);
    let made = this.layouts.get(kernel.key);
    if (!made) {
      const group = this.device.createBindGroupLayout({ label: k.name, entries: layoutEntries(kernel) });
      made = {
        id: this.layouts.size,
        kernel,
        group,
        pipeline: this.device.createPipelineLayout({ bindGroupLayouts: [group] }),
      };
      this.layouts.set(kernel.key, made);
    }
    return made;
  }

  private pipeline(k: Kernel, constants: Record<string, number> | undefined): Pipeline {
    let node: Variants | undefined = this.pipelines.get(k);
    if (!node) {
      node = { pipeline: null, next: new Map() };
      this.pipelines.set(k, node);
    }
    if (constants) {
      for (const name in constants) {
        let byValue: Map<number, Variants> | undefined = node.next.get(name);
        if (!byValue) {
          byValue = new Map();
          node.next.set(name, byValue);
        }
        const value = constants[name];
        let next: Variants | undefined = byValue.get(value);
        if (!next) {
          next = { pipeline: null, next: new Map() };
          byValue.set(value, next);
        }
        node = next;
      }
    }
    node.pipeline ??= this.createPipeline(k, constants);
    return node.pipeline;
  }

  private createPipeline(k: Kernel, constants: Record<string, number> | undefined): Pipeline {
    let module = this.modules.get(k.code);
    this.device.pushErrorScope("validation");
    if (!module) {
      module = this.device.createShaderModule({ code: k.code, label: k.name });
      this.modules.set(k.code, module);
    }
    const layout = this.layout(k);
    this.counts.pipelines++;
    const pipeline = this.device.createComputePipeline({
      label: k.name,
      layout: layout.pipeline,
      compute: { module, entryPoint: k.entryPoint, constants },
    });
    this.device.popErrorScope().then((err) => {
      if (err) this.errors.push(new KernelError(k.name, nameSourceLines(k.source, err.message)));
    });
    return { pipeline, layout };
  }

  /** The bind group of these buffers for a layout: made on first use, then reused. */
  private bindGroup(
    layout: Layout,
    names: readonly string[],
    buffers: Readonly<Record<string, GPUBuffer | GPUBufferBinding>>,
  ): GPUBindGroup {
    const bound = this.bound;
    const n = names.length;
    let hash = layout.id;
    for (let i = 0; i < n; i++) {
      const b = buffers[names[i]];
      const whole = !("buffer" in b);
      const buffer = whole ? b : b.buffer;
      const offset = whole ? 0 : (b.offset ?? 0);
      const size = whole ? -1 : (b.size ?? -1);
      bound.buffers[i] = buffer;
      bound.offsets[i] = offset;
      bound.sizes[i] = size;
      hash = Math.imul(hash ^ bufferId(buffer), 0x9e3779b1);
      hash = Math.imul(hash ^ offset, 0x85ebca6b);
      hash = Math.imul(hash ^ size, 0xc2b2ae35);
    }
    const candidates = this.bindGroups.get(hash);
    if (candidates)
      for (const c of candidates) if (c.layout === layout.id && this.sameRanges(c, n)) return c.group;
    const entries: GPUBindGroupEntry[] = [];
    if (layout.kernel.hasParams)
      entries.push({ binding: 0, resource: { buffer: this.arena, offset: 0, size: PARAM_SLOT } });
    names.forEach((name, i) => {
      const b = buffers[name];
      entries.push({ binding: i + 1, resource: "buffer" in b ? b : { buffer: b } });
    });
    const made: BindGroupEntry = {
      group: this.device.createBindGroup({ layout: layout.group, entries }),
      hash,
      layout: layout.id,
      buffers: bound.buffers.slice(0, n),
      offsets: bound.offsets.slice(0, n),
      sizes: bound.sizes.slice(0, n),
    };
    this.counts.bindGroups++;
    if (candidates) candidates.push(made);
    else this.bindGroups.set(hash, [made]);
    this.bindGroupCount++;
    for (const buffer of made.buffers) {
      const list = this.byBuffer.get(buffer);
      if (list) list.push(made);
      else this.byBuffer.set(buffer, [made]);
    }
    return made.group;
  }

  /** Whether a cached bind group binds the same n buffer ranges as this.bound. */
  private sameRanges(c: BindGroupEntry, n: number): boolean {
    if (c.buffers.length !== n) return false;
    const bound = this.bound;
    for (let i = 0; i < n; i++)
      if (
        c.buffers[i] !== bound.buffers[i] ||
        c.offsets[i] !== bound.offsets[i] ||
        c.sizes[i] !== bound.sizes[i]
      )
        return false;
    return true;
  }

  /** Bind groups held for reuse (tests check that destroyed buffers leave the cache). */
  get cachedBindGroups(): number {
    return this.bindGroupCount;
  }

  /** Drops the bind groups that bind a buffer about to be destroyed. */
  private forget(buffer: GPUBuffer): void {
    for (const made of this.byBuffer.get(buffer) ?? []) {
      const candidates = this.bindGroups.get(made.hash);
      const at = candidates?.indexOf(made) ?? -1;
      if (!candidates || at < 0) continue; // already dropped through another of its buffers
      candidates.splice(at, 1);
      if (!candidates.length) this.bindGroups.delete(made.hash);
      this.bindGroupCount--;
    }
    this.byBuffer.delete(buffer);
  }

  /** Compiles a kernel now and throws a KernelError with the compiler's messages if it fails. */
  async compile(k: Kernel, constants?: Record<string, number>): Promise<void> {
    this.device.pushErrorScope("validation");
    const module = this.device.createShaderModule({ code: k.code, label: k.name });
    const info = await module.getCompilationInfo();
    const errs = info.messages.filter((m) => m.type === "error");
    const pipeline = errs.length
      ? null
      : await this.device
          .createComputePipelineAsync({
            label: k.name,
            layout: this.layout(k).pipeline,
            compute: { module, entryPoint: k.entryPoint, constants },
          })
          .catch((e: Error) => e);
    const scoped = await this.device.popErrorScope();
    if (errs.length) {
      const lines = k.code.split("\n");
      const text = errs
        .map(
          (m) =>
            `line ${m.lineNum} (${sourceLine(k.source, m.lineNum)}): ${m.message}\n  ${lines[m.lineNum - 1] ?? ""}`,
        )
        .join("\n");
      throw new KernelError(k.name, `WGSL compilation failed:\n${text}`);
    }
    if (pipeline instanceof Error) throw new KernelError(k.name, pipeline.message);
    if (scoped) throw new KernelError(k.name, scoped.message);
  }

  dispatch<P extends ParamTypes, B extends string>(args: DispatchArgs<P, B>): void {
    if (this.lost) throw this.lost;
    const k = args.kernel;
    const { pipeline, layout } = this.pipeline(k, args.constants);
    const bindGroup = this.bindGroup(layout, k.bindings, args.buffers);
    if (this.arenaUsed + PARAM_SLOT > ARENA_BYTES) this.flush();
    const pass = this.beginPass(k.name);
    pass.setPipeline(pipeline);
    if (layout.kernel.hasParams) {
      packParams(k.fields, args.params ?? {}, this.arenaView, this.arenaUsed);
      this.dynamicOffset[0] = this.arenaUsed;
      pass.setBindGroup(0, bindGroup, this.dynamicOffset);
      this.arenaUsed += PARAM_SLOT;
    } else pass.setBindGroup(0, bindGroup);
    const w = args.workgroups;
    if (this.dry) pass.dispatchWorkgroups(0, 0, 0);
    else pass.dispatchWorkgroups(w[0], w[1] ?? 1, w[2] ?? 1);
    if (this.profiler?.enabled) this.endPass();
    this.counts.dispatches++;
  }

  private beginPass(label: string): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    this.encoder ??= this.device.createCommandEncoder();
    const timestampWrites = this.profiler?.enabled ? this.profiler.nextPass(label) : undefined;
    this.pass = this.encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
    this.counts.passes++;
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** Submits everything recorded so far. Call at phase boundaries (e.g. once per step). */
  flush(): void {
    if (this.lost) throw this.lost;
    if (!this.encoder) return;
    this.endPass();
    this.profiler?.resolve(this.encoder);
    if (this.arenaUsed > 0) {
      this.device.queue.writeBuffer(this.arena, 0, this.arenaCpu, 0, this.arenaUsed);
      this.counts.writes++;
    }
    this.device.queue.submit([this.encoder.finish()]);
    this.counts.submits++;
    // Writes queued from now on come after this submission: its upload buffers can be reused.
    // Given back in reverse, so that the next submission takes them in the same order (and binds
    // the same buffers).
    for (const b of this.uploadsInFlight.reverse()) {
      const list = this.uploads.get(b.size);
      if (list) list.push(b);
      else this.uploads.set(b.size, [b]);
    }
    this.uploadsInFlight.length = 0;
    this.encoder = null;
    this.arenaUsed = 0;
    this.profiler?.collect();
  }

  /** Copies a buffer region out of the GPU. Never awaited in the hot loop: metrics are read later. */
  async read(buffer: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    // Errors are checked after the map: by then every error scope of the work before has settled.
    if (this.lost) throw this.lost;
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    const staging = this.takeStaging(bytes);
    this.encoder.copyBufferToBuffer(buffer, offset, staging, 0, bytes);
    this.counts.copies++;
    this.flush();
    try {
      await staging.mapAsync(MAP_READ, 0, bytes);
    } catch (err) {
      if (this.lost) throw this.lost;
      throw new GpuError(`reading back ${bytes} bytes failed: ${(err as Error).message}`);
    }
    const out = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    this.giveStaging(staging);
    this.checkErrors();
    return out;
  }

  /** Waits until the GPU has finished all submitted work (benchmarks, tests). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.checkErrors();
  }

  private takeStaging(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    return this.staging.get(size)?.pop() ?? this.device.createBuffer({ size, usage: MAP_READ | COPY_DST });
  }

  private giveStaging(b: GPUBuffer): void {
    const list = this.staging.get(b.size) ?? [];
    list.push(b);
    this.staging.set(b.size, list);
  }

  destroy(): void {
    this.destroyed = true;
    this.device.destroy();
  }

  /** Test hook: simulates a device loss as the driver would report it. */
  loseDevice(): void {
    this.device.destroy();
  }
}
