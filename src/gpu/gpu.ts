// The only object the rest of the engine uses to reach WebGPU: allocate, release, upload,
// dispatch, flush, read. Dispatches are recorded into one command encoder (one compute pass)
// and submitted together by flush(), or when something must leave the GPU (a read).
import { type AcquiredDevice, acquireDevice, browserGpu, type DeviceInfo } from "./device";
import { DeviceLostError, GpuError, KernelError } from "./errors";
import { type Kernel, type Param, packParams } from "./kernel";
import { BufferPool, sizeClass } from "./pool";
import { Profiler } from "./profiler";

const PARAM_SLOT = 256; // minUniformBufferOffsetAlignment on every adapter
const ARENA_BYTES = 1 << 20; // uniform parameters for up to 4096 dispatches per submission
const MAP_READ = 0x0001;
const COPY_DST = 0x0008;
const UNIFORM = 0x0040;

export interface DispatchArgs {
  kernel: Kernel;
  /** Values for the kernel's WGSL `override` constants. */
  constants?: Record<string, number>;
  /** The uniform struct at binding 0, 4 bytes per entry. */
  params?: Param[];
  /** Storage buffers (or ranges of them, e.g. tensor.binding) at bindings 1, 2, ... */
  buffers: (GPUBuffer | GPUBufferBinding)[];
  workgroups: [number, number?, number?];
}

export interface GpuOptions {
  /** A WebGPU implementation; defaults to navigator.gpu. Node passes dawnGpu(). */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Pretend the adapter lacks these features (tests of the fallback paths). */
  disabledFeatures?: GPUFeatureName[];
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
}

export class Gpu {
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
  readonly info: DeviceInfo;
  readonly pool: BufferPool;
  readonly profiler: Profiler | null;
  /** A small read-only buffer for bindings a kernel variant does not read. */
  readonly dummy: GPUBuffer;
  readonly dry: boolean;
  readonly counts: GpuCounts = { dispatches: 0, bindGroups: 0, passes: 0, copies: 0, writes: 0, submits: 0 };

  private modules = new Map<string, GPUShaderModule>();
  // Each pipeline with its bind group layout: asking the pipeline for it on every dispatch costs
  // a native call and a new wrapper object.
  private pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private arena: GPUBuffer;
  private arenaCpu = new ArrayBuffer(ARENA_BYTES);
  private arenaView = new DataView(this.arenaCpu);
  private arenaUsed = 0;
  private staging = new Map<number, GPUBuffer[]>();
  private errors: Error[] = [];
  private lost: DeviceLostError | null = null;
  private destroyed = false;

  static async create(options: GpuOptions = {}): Promise<Gpu> {
    const gpu = options.gpu ?? browserGpu();
    return new Gpu(gpu, await acquireDevice(gpu, options), options.dry ?? false);
  }

  private constructor(
    // Dawn in Node destroys its instance when the GPU object is garbage collected, which
    // crashes later calls: the Gpu keeps it (and the adapter) alive for the device's lifetime.
    readonly implementation: GPU,
    { device, adapter, info }: AcquiredDevice,
    dry: boolean,
  ) {
    this.dry = dry;
    this.adapter = adapter;
    this.device = device;
    this.info = info;
    this.pool = new BufferPool(device);
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

  /** Copies data into a buffer in stream order (pending dispatches that read it see the old data). */
  write(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    if (this.encoder) this.flush();
    this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
    this.counts.writes++;
  }

  /** Copies bytes between buffers in stream order (after the dispatches recorded so far). */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    if (this.lost) throw this.lost;
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.counts.copies++;
  }

  // ---- kernels ----

  private pipeline(
    k: Kernel,
    constants: Record<string, number> | undefined,
  ): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
    const key = `${k.name}|${k.entryPoint}|${constants ? JSON.stringify(constants) : ""}|${k.code.length}`;
    const cached = this.pipelines.get(key);
    if (cached) return cached;
    let module = this.modules.get(k.code);
    this.device.pushErrorScope("validation");
    if (!module) {
      module = this.device.createShaderModule({ code: k.code, label: k.name });
      this.modules.set(k.code, module);
    }
    const pipeline = this.device.createComputePipeline({
      label: k.name,
      layout: "auto",
      compute: { module, entryPoint: k.entryPoint, constants },
    });
    this.device.popErrorScope().then((err) => {
      if (err) this.errors.push(new KernelError(k.name, err.message));
    });
    const made = { pipeline, layout: pipeline.getBindGroupLayout(0) };
    this.pipelines.set(key, made);
    return made;
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
            layout: "auto",
            compute: { module, entryPoint: k.entryPoint, constants },
          })
          .catch((e: Error) => e);
    const scoped = await this.device.popErrorScope();
    if (errs.length) {
      const lines = k.code.split("\n");
      const text = errs
        .map((m) => `line ${m.lineNum}: ${m.message}\n  ${lines[m.lineNum - 1] ?? ""}`)
        .join("\n");
      throw new KernelError(k.name, `WGSL compilation failed:\n${text}`);
    }
    if (pipeline instanceof Error) throw new KernelError(k.name, pipeline.message);
    if (scoped) throw new KernelError(k.name, scoped.message);
  }

  dispatch(args: DispatchArgs): void {
    if (this.lost) throw this.lost;
    const { pipeline, layout } = this.pipeline(args.kernel, args.constants);
    if (this.arenaUsed + PARAM_SLOT > ARENA_BYTES) this.flush();
    const entries: GPUBindGroupEntry[] = [];
    if (args.params?.length) {
      packParams(args.params, this.arenaView, this.arenaUsed);
      entries.push({
        binding: 0,
        resource: { buffer: this.arena, offset: this.arenaUsed, size: PARAM_SLOT },
      });
      this.arenaUsed += PARAM_SLOT;
    }
    args.buffers.forEach((b, i) => {
      entries.push({ binding: i + 1, resource: "buffer" in b ? b : { buffer: b } });
    });
    const bindGroup = this.device.createBindGroup({ layout, entries });
    this.counts.bindGroups++;
    const [x, y = 1, z = 1] = this.dry ? [0, 0, 0] : args.workgroups;
    const pass = this.beginPass(args.kernel.name);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
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
