// The runtime: adapters, errors a user can act on, device loss, pooling, profiling.
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { DAWN_POLL_MS, dawnGpu } from "../../src/gpu/dawn";
import { acquireDevice, browserGpu } from "../../src/gpu/device";
import { DeviceLostError, KernelError, NoWebGPUError } from "../../src/gpu/errors";
import { Gpu } from "../../src/gpu/gpu";
import { grid1d, kernel } from "../../src/gpu/kernel";
import { FIT_RATIO, sizeClass } from "../../src/gpu/pool";
import { add, scale } from "../../src/ops/elementwise";
import { full } from "../../src/ops/elementwise_kernels";
import { matmul } from "../../src/ops/matmul";
import { tidy } from "../../src/tensor/scope";
import { Tensor } from "../../src/tensor/tensor";
import { testGpu } from "../helpers/gpu";

describe("device", () => {
  it("reports the adapter and the features in use", async () => {
    const gpu = await testGpu();
    expect(gpu.info.vendor.length).toBeGreaterThan(0);
    expect(gpu.info.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 << 20);
    for (const f of gpu.info.features) expect(["subgroups", "shader-f16", "timestamp-query"]).toContain(f);
  });

  it("explains what to do when there is no adapter", async () => {
    const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
    await expect(acquireDevice(noAdapter)).rejects.toThrow(NoWebGPUError);
    await expect(acquireDevice(noAdapter)).rejects.toThrow(/VK_ICD_FILENAMES/);
    // In a browser the message names browsers and flags, not Node's drivers.
    const inBrowser = acquireDevice(noAdapter, { browser: true });
    await expect(inBrowser).rejects.toThrow(
      /hardware acceleration.*Chrome or Edge 113\+.*--enable-unsafe-webgpu/,
    );
    await expect(inBrowser).rejects.not.toThrow(/VK_ICD_FILENAMES|Dawn/);
  });

  it("explains what to do when the browser has no navigator.gpu", () => {
    expect(() => browserGpu()).toThrow(/navigator\.gpu is missing.*Chrome/);
  });

  it("works without optional features (f32 path)", async () => {
    const gpu = await Gpu.create({
      gpu: await dawnGpu(),
      disabledFeatures: ["subgroups", "timestamp-query"],
    });
    expect(gpu.info.features).toEqual([]);
    expect(gpu.profiler).toBeNull();
    const x = Tensor.from(gpu, [1, 2, 3], [3]);
    const y = add(x, x);
    expect([...(await y.read())]).toEqual([2, 4, 6]);
    gpu.destroy();
  });
});

describe("Dawn in Node", () => {
  it("polls its events instead of spinning the main thread while the GPU works", async () => {
    const gpu = await testGpu();
    // Work that keeps SwiftShader busy for a while: 16 chained 384^3 products.
    const a = Tensor.from(gpu, new Float32Array(384 * 384).fill(1 / 384), [384, 384]);
    const y = tidy(() => {
      let x = a;
      for (let i = 0; i < 16; i++) x = matmul(x, a);
      return x;
    });
    gpu.flush();
    const start = performance.now();
    const before = performance.eventLoopUtilization();
    const values = await y.read();
    const busy = performance.eventLoopUtilization(before).utilization;
    const waited = performance.now() - start;
    expect(values[0]).toBeCloseTo(1 / 384, 6);
    expect(waited).toBeGreaterThan(50); // long enough for the loop's share to mean something
    expect(busy).toBeLessThan(0.5); // Dawn's own setImmediate loop keeps it near 1
    a.dispose();
    y.dispose();
    // Other setImmediate callers are untouched, and the process keeps one polling period.
    await new Promise((resolve) => setImmediate(resolve));
    await promisify(setImmediate)();
    await expect(dawnGpu([], DAWN_POLL_MS + 1)).rejects.toThrow(
      `Dawn's events are already polled every ${DAWN_POLL_MS} ms in this process`,
    );
  });
});

describe("errors", () => {
  it("reports a WGSL compile error with its line and the file it came from", async () => {
    const gpu = await testGpu();
    const bad = kernel({
      name: "broken",
      file: "broken.wgsl",
      code: "#include workgroup\n@compute @workgroup_size(WG)\nfn main() {\n  let x: f32 = undefined_thing;\n}",
      bindings: [],
    });
    await expect(gpu.compile(bad)).rejects.toThrow(KernelError);
    await expect(gpu.compile(bad)).rejects.toThrow(/line 4 \(broken\.wgsl:4\).*undefined_thing/s);
  });

  it("surfaces a failed dispatch at the next read instead of returning garbage", async () => {
    const gpu = await Gpu.create({ gpu: await dawnGpu() });
    const bad = kernel({
      name: "broken.dispatch",
      file: "broken.wgsl",
      code: "#include workgroup\n@compute @workgroup_size(WG) fn main() {\n  let y = nothing;\n}",
      bindings: [],
    });
    const out = Tensor.from(gpu, [1], [1]);
    gpu.dispatch({ kernel: bad, buffers: {}, workgroups: [1] });
    await expect(out.read()).rejects.toThrow(/broken\.dispatch.*:3:\d+ \(broken\.wgsl:3\) error/s);
    gpu.destroy();
  });

  it("turns a lost device into DeviceLostError for pending and later work", async () => {
    const gpu = await Gpu.create({ gpu: await dawnGpu() });
    const x = Tensor.from(gpu, new Float32Array(1024).fill(1), [1024]);
    const y = scale(x, 2);
    gpu.loseDevice();
    await gpu.device.lost;
    await expect(y.read()).rejects.toThrow(DeviceLostError);
    expect(() => scale(x, 2)).toThrow(/GPU device lost.*checkpoint/);
  });
});

describe("memory and dispatch", () => {
  it("size classes waste at most 12.5% above 1 MiB and are powers of two below", () => {
    expect(sizeClass(1)).toBe(16);
    expect(sizeClass(1000)).toBe(1024);
    for (const n of [1_048_577, 3_000_000, 123_456_789]) {
      const c = sizeClass(n);
      expect(c).toBeGreaterThanOrEqual(n);
      expect(c / n).toBeLessThanOrEqual(1.125);
      expect(sizeClass(c)).toBe(c);
    }
  });

  it("hands out the oldest free buffer of a class, whatever order they were released in", async () => {
    const gpu = await testGpu();
    const [a, b, c] = [gpu.alloc(40_000), gpu.alloc(40_000), gpu.alloc(40_000)];
    for (const buffer of [b, c, a]) gpu.release(buffer);
    const handedOut = [gpu.alloc(40_000), gpu.alloc(40_000), gpu.alloc(40_000)];
    expect(handedOut.map((buffer) => [a, b, c].indexOf(buffer))).toEqual([0, 1, 2]);
    for (const buffer of [a, b, c]) gpu.release(buffer);
  });

  it(`hands a request the smallest free buffer that fits, up to ${FIT_RATIO}x its size class`, async () => {
    const gpu = await testGpu();
    const MiB = 2 ** 20;
    gpu.pool.trim(); // the shared Gpu's free buffers from earlier tests would serve these requests
    const created = gpu.pool.created;
    const [big, bigger] = [gpu.alloc(2.75 * MiB), gpu.alloc(3.5 * MiB)];
    gpu.release(bigger);
    gpu.release(big);
    const inUse = gpu.pool.bytesInUse;
    // 2.5 MiB: both fit; the smaller is taken.
    const a = gpu.alloc(2.5 * MiB);
    expect(a).toBe(big);
    // 2 MiB: 3.5 MiB is more than 1.5x its class, so a new buffer is made beside it.
    const b = gpu.alloc(2 * MiB);
    expect(b).not.toBe(bigger);
    expect(gpu.pool.created).toBe(created + 3);
    for (const buffer of [a, b]) gpu.release(buffer);
    expect(gpu.pool.bytesInUse).toBe(inUse);
  });

  it("hands a training step the buffers the step before got, where the size-class choice would differ", async () => {
    const gpu = await testGpu();
    const MiB = 2 ** 20;
    gpu.pool.trim();
    const step = () =>
      gpu.pool.step(() => {
        const first = gpu.alloc(2.75 * MiB);
        gpu.release(first);
        const [a, b] = [gpu.alloc(2 * MiB), gpu.alloc(2 * MiB)];
        gpu.release(a);
        gpu.release(b);
        return [first, a, b];
      });
    // The first step: a takes the free 2.75 MiB buffer, b finds nothing free and gets a new 2 MiB.
    const [big, a1, b1] = step();
    expect(a1).toBe(big);
    expect(b1.size).toBe(2 * MiB);
    const created = gpu.pool.created;
    // By size class alone, a would now take b's smaller buffer and b the larger: same buffers,
    // other bind groups. The second step gets the first step's, request by request.
    const [big2, a2, b2] = step();
    expect([big2 === big, a2 === a1, b2 === b1]).toEqual([true, true, true]);
    expect(gpu.pool.created).toBe(created);
  });

  it("makes a bind group once for the same buffers, and forgets it when a buffer is destroyed", async () => {
    const gpu = await Gpu.create({ gpu: await dawnGpu() });
    const x = Tensor.from(gpu, [1, 2, 3], [3]);
    const step = () => tidy(() => void add(x, x));
    step();
    const made = gpu.counts.bindGroups;
    for (let i = 0; i < 5; i++) step();
    expect(gpu.counts.bindGroups).toBe(made);
    const cached = gpu.cachedBindGroups;
    gpu.pool.trim(); // destroys the free output buffer the cached bind group names
    expect(gpu.cachedBindGroups).toBe(cached - 1);
    x.dispose();
    gpu.destroy();
  });

  it("reuses released buffers", async () => {
    const gpu = await testGpu();
    tidy(() => {
      scale(full(Tensor.empty(gpu, [1]), [777], 1), 3);
    });
    const before = gpu.pool.created;
    for (let i = 0; i < 20; i++) {
      tidy(() => {
        scale(full(Tensor.empty(gpu, [1]), [777], 1), 3);
      });
    }
    expect(gpu.pool.created).toBe(before);
  });

  it("folds grids past 65535 workgroups and covers every element", async () => {
    expect(grid1d(256 * 70000, 256)).toEqual([35000, 2]);
    const gpu = await testGpu();
    const n = 256 * 65536 + 7;
    const y = tidy(() => full(Tensor.empty(gpu, [1]), [n], 2.5));
    const v = await y.read();
    expect(v[0]).toBe(2.5);
    expect(v[n - 1]).toBe(2.5);
    expect(v.every((x) => x === 2.5)).toBe(true);
    y.dispose();
  });

  it("records many dispatches into one submission", async () => {
    const gpu = await testGpu();
    const submits = gpu.counts.submits;
    const x = Tensor.from(gpu, [1], [1]);
    const y = tidy(() => {
      let t = x;
      for (let i = 0; i < 50; i++) t = scale(t, 1, 1);
      return t;
    });
    expect((await y.read())[0]).toBe(51);
    expect(gpu.counts.submits - submits).toBe(1);
    x.dispose();
    y.dispose();
  });
});

describe("profiler", () => {
  it("times each kernel with timestamp queries", async () => {
    const gpu = await Gpu.create({ gpu: await dawnGpu() });
    if (!gpu.profiler) return expect(gpu.has("timestamp-query")).toBe(false);
    gpu.profiler.enabled = true;
    const x = Tensor.from(gpu, new Float32Array(4096).fill(1), [4096]);
    for (let i = 0; i < 3; i++) tidy(() => add(scale(x, 2), x));
    await gpu.sync();
    const report = await gpu.profiler.report();
    const names = report.map((r) => r.kernel);
    expect(names).toContain("elementwise.unary");
    expect(names).toContain("elementwise.binary");
    expect(report.find((r) => r.kernel === "elementwise.binary")?.calls).toBe(3);
    for (const r of report) expect(r.totalMs).toBeGreaterThanOrEqual(0);
    gpu.destroy();
  });
});
