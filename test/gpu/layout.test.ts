// Bind group layouts read from each kernel's WGSL (no GPU needed): the bindings an entry point
// uses, through the functions it calls, with their kinds.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { KernelError } from "../../src/gpu/errors";
import type { Gpu } from "../../src/gpu/gpu";
import { kernel } from "../../src/gpu/kernel";
import { kernelLayout, wgslInterface } from "../../src/gpu/layout";
import { includeWgsl } from "../../src/gpu/wgsl-lib";
import { attentionKernels } from "../../src/ops/attention";
import { activationGradKernel, bLoadedKernel, matmulKernels } from "../../src/ops/matmul";

const dir = new URL("../../kernels/", import.meta.url);
/** Templates completed by their op before compiling (checked as the op makes them, below). */
const TEMPLATES = new Set(["attention.wgsl", "matmul.wgsl"]);

/** An entry point's interface, read from WGSL without a contract to check. */
function wgsl(code: string, entryPoint = "main") {
  return wgslInterface({ name: "test", code, entryPoint });
}

describe("kernel layouts", () => {
  it("every entry point of every kernel file has a layout", () => {
    let entryPoints = 0;
    const files = readdirSync(dir).filter((f) => f.endsWith(".wgsl"));
    for (const file of files.filter((f) => !TEMPLATES.has(f))) {
      const { code } = includeWgsl(file, [{ file, text: readFileSync(new URL(file, dir), "utf8") }]);
      for (const m of code.matchAll(/@compute[^;{]*?\bfn\s+(\w+)/g)) {
        expect(() => wgslInterface({ name: file, code, entryPoint: m[1] }), `${file} ${m[1]}`).not.toThrow();
        entryPoints++;
      }
    }
    expect(entryPoints).toBeGreaterThan(30);
  });

  it("matmul's variants (tiled with vec4 or f32 quads of each operand, direct, B written out) each have a layout", () => {
    const tiled = Object.values(matmulKernels.tiled).flatMap((v) => Object.values(v));
    const variants = [...tiled, matmulKernels.direct, bLoadedKernel, activationGradKernel];
    for (const k of variants) expect(() => kernelLayout(k), k.name).not.toThrow();
    expect(variants.length).toBe(7);
  });

  it("attention's kernels, as generated for a head dim and for a GPU or a CPU, each have a layout", () => {
    for (const [headDim, vec4] of [
      [64, true],
      [6, false],
      [128, true],
    ] as const) {
      for (const target of ["gpu", "cpu"] as const) {
        const set = attentionKernels(headDim, vec4, target);
        for (const k of [set.forward, set.delta, set.dkv, set.dq]) {
          expect(() => kernelLayout(k), `${k.name}`).not.toThrow();
        }
      }
    }
  });

  it("tells apart entry points that declare the same binding numbers", () => {
    const code = includeWgsl("softmax", [
      { file: "softmax.wgsl", text: readFileSync(new URL("softmax.wgsl", dir), "utf8") },
    ]).code;
    expect(wgsl(code, "forward").bindings).toEqual(["uniform", "read-only-storage", "storage"]);
    expect(wgsl(code, "backward").bindings).toEqual([
      "uniform",
      "read-only-storage",
      "read-only-storage",
      "storage",
    ]);
  });

  it("follows helper functions and ignores comments", () => {
    const code = `
      @group(0) @binding(0) var<uniform> p: vec4u;
      @group(0) @binding(1) var<storage, read> a: array<f32>;
      @group(0) @binding(2) var<storage, read_write> out: array<f32>;
      @group(0) @binding(2) var<storage, read> unused: array<f32>;
      fn load(i: u32) -> f32 { let unused = a[i]; return unused; } // a local named like binding 2; out[i] in a comment
      @compute @workgroup_size(1) fn main() { out[0] = load(p.x); }`;
    expect(wgsl(code).bindings).toEqual(["uniform", "read-only-storage", "storage"]);
  });

  it("does not follow a local variable named like another entry point", () => {
    const code = `
      @group(0) @binding(1) var<storage, read_write> out: array<f32>;
      fn helper() -> f32 { let total = 1.0; return total; }
      @compute @workgroup_size(1) fn main() { out[0] = helper(); }
      @group(0) @binding(1) var<storage, read> sums: array<f32>;
      @compute @workgroup_size(1) fn total() { let x = sums[0]; }`;
    expect(wgsl(code).bindings).toEqual([null, "storage"]);
  });

  it("says which binding is missing when an entry point's bindings have a gap", () => {
    const code = `
      @group(0) @binding(1) var<storage, read> a: array<f32>;
      @group(0) @binding(3) var<storage, read_write> out: array<f32>;
      @compute @workgroup_size(1) fn main() { out[0] = a[0]; }`;
    expect(() => wgsl(code)).toThrow(/without gaps/);
  });
});

describe("kernel contract", () => {
  const code = `
    struct Params { rows: u32, eps: f32, shape: array<vec4u, 2> }
    @group(0) @binding(0) var<uniform> p: Params;
    @group(0) @binding(1) var<storage, read> x: array<f32>;
    @group(0) @binding(2) var<storage, read_write> y: array<f32>;
    @compute @workgroup_size(1) fn main() { y[0] = x[p.rows] * p.eps + f32(p.shape[0].x); }`;
  const params = { rows: "u32", eps: "f32", shape: "array<vec4u, 2>" } as const;

  it("accepts a kernel whose parameters and bindings match its WGSL, and lays them out by WGSL's rules", () => {
    const k = kernel({ name: "ok", code, params, bindings: ["x", "y"] });
    expect(kernelLayout(k).bindings).toEqual(["uniform", "read-only-storage", "storage"]);
    expect(k.fields.map((f) => f.offset)).toEqual([0, 4, 16]);
  });

  const mistakes: [string, () => ReturnType<typeof kernel>, RegExp][] = [
    [
      "a misspelt parameter",
      () =>
        kernel({
          name: "bad",
          code,
          params: { row: "u32", eps: "f32", shape: "array<vec4u, 2>" },
          bindings: ["x", "y"],
        }),
      /parameter 1 is rows: u32 .* row: u32/,
    ],
    [
      "a parameter of the wrong type",
      () =>
        kernel({
          name: "bad",
          code,
          params: { rows: "u32", eps: "u32", shape: "array<vec4u, 2>" },
          bindings: ["x", "y"],
        }),
      /parameter 2 is eps: f32 .* eps: u32/,
    ],
    [
      "parameters out of order",
      () =>
        kernel({
          name: "bad",
          code,
          params: { eps: "f32", rows: "u32", shape: "array<vec4u, 2>" },
          bindings: ["x", "y"],
        }),
      /parameter 1 is rows: u32 .* eps: f32/,
    ],
    [
      "a missing parameter",
      () => kernel({ name: "bad", code, params: { rows: "u32", eps: "f32" }, bindings: ["x", "y"] }),
      /parameter 3 is shape: array<vec4u,2> .* nothing/,
    ],
    [
      "a wrong binding name",
      () => kernel({ name: "bad", code, params, bindings: ["x", "out"] }),
      /uses "y" at binding 2, the kernel's bindings name "out"/,
    ],
    [
      "a missing binding",
      () => kernel({ name: "bad", code, params, bindings: ["x"] }),
      /uses "y" at binding 2, the kernel's bindings name nothing/,
    ],
    [
      "parameters for an entry point without a uniform",
      () =>
        kernel({
          name: "bad",
          code: code.replace("x[p.rows] * p.eps + f32(p.shape[0].x)", "x[0]"),
          params,
          bindings: ["x", "y"],
        }),
      /reads no uniform at binding 0/,
    ],
  ];
  // Held by tsc (npm test runs it): each @ts-expect-error must meet an error.
  it("types a dispatch's parameters and buffers from the kernel's declaration", () => {
    const k = kernel({ name: "typed", code, params, bindings: ["x", "y"] });
    const dispatches = (gpu: Gpu, x: GPUBuffer, y: GPUBuffer) => {
      const workgroups: [number] = [1];
      const ok = { rows: 1, eps: 0.5, shape: [2, 3] };
      gpu.dispatch({ kernel: k, params: ok, buffers: { x, y }, workgroups });
      // @ts-expect-error a misspelt parameter
      gpu.dispatch({ kernel: k, params: { row: 1, eps: 0.5, shape: [2] }, buffers: { x, y }, workgroups });
      // @ts-expect-error a missing parameter
      gpu.dispatch({ kernel: k, params: { rows: 1, shape: [2] }, buffers: { x, y }, workgroups });
      // @ts-expect-error an array for a scalar
      gpu.dispatch({ kernel: k, params: { rows: [1], eps: 0.5, shape: [2] }, buffers: { x, y }, workgroups });
      // @ts-expect-error a misspelt buffer
      gpu.dispatch({ kernel: k, params: ok, buffers: { x, out: y }, workgroups });
      // @ts-expect-error a missing buffer
      gpu.dispatch({ kernel: k, params: ok, buffers: { x }, workgroups });
    };
    expect(dispatches).toBeTypeOf("function");
  });

  for (const [what, make, message] of mistakes) {
    it(`fails on ${what}, naming the kernel`, () => {
      const k = make();
      expect(() => kernelLayout(k)).toThrow(KernelError);
      expect(() => kernelLayout(k)).toThrow(/^kernel "bad": /);
      expect(() => kernelLayout(k)).toThrow(message);
    });
  }
});
