// Bind group layouts read from each kernel's WGSL (no GPU needed): the bindings an entry point
// uses, through the functions it calls, with their kinds.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { kernel } from "../../src/gpu/kernel";
import { kernelLayout } from "../../src/gpu/layout";
import { attentionKernels } from "../../src/ops/attention";
import { activationGradKernel, matmulKernels } from "../../src/ops/matmul";

const dir = new URL("../../kernels/", import.meta.url);
/** Templates completed by their op before compiling (checked as the op makes them, below). */
const TEMPLATES = new Set(["attention.wgsl", "matmul.wgsl"]);

describe("kernel layouts", () => {
  it("every entry point of every kernel file has a layout", () => {
    let entryPoints = 0;
    const files = readdirSync(dir).filter((f) => f.endsWith(".wgsl"));
    const read = (file: string) => readFileSync(new URL(file, dir), "utf8");
    // Shared functions (no entry point of their own) that ops put before a kernel's source.
    const library = files
      .filter((f) => !read(f).includes("@compute"))
      .map(read)
      .join("\n");
    for (const file of files.filter((f) => !TEMPLATES.has(f))) {
      const code = library + read(file);
      for (const m of code.matchAll(/@compute[^;{]*?\bfn\s+(\w+)/g)) {
        expect(() => kernelLayout(kernel(file, code, m[1])), `${file} ${m[1]}`).not.toThrow();
        entryPoints++;
      }
    }
    expect(entryPoints).toBeGreaterThan(30);
  });

  it("matmul's variants (vec4 or f32 quads of each operand) each have a layout", () => {
    const variants = [...Object.values(matmulKernels).flatMap((v) => Object.values(v)), activationGradKernel];
    for (const k of variants) expect(() => kernelLayout(k), k.name).not.toThrow();
    expect(variants.length).toBe(5);
  });

  it("attention's kernels, as generated for a head dim, each have a layout", () => {
    for (const [headDim, vec4] of [
      [64, true],
      [6, false],
      [128, true],
    ] as const) {
      const set = attentionKernels(headDim, vec4);
      for (const k of [set.forward, set.delta, set.dkv, set.dq]) {
        expect(() => kernelLayout(k), `${k.name}`).not.toThrow();
      }
    }
  });

  it("tells apart entry points that declare the same binding numbers", () => {
    const code = readFileSync(new URL("softmax.wgsl", dir), "utf8");
    expect(kernelLayout(kernel("softmax", code, "forward")).bindings).toEqual([
      "uniform",
      "read-only-storage",
      "storage",
    ]);
    expect(kernelLayout(kernel("softmax", code, "backward")).bindings).toEqual([
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
    const layout = kernelLayout(kernel("helper", code));
    expect(layout.bindings).toEqual(["uniform", "read-only-storage", "storage"]);
    expect(layout.hasParams).toBe(true);
  });

  it("does not follow a local variable named like another entry point", () => {
    const code = `
      @group(0) @binding(1) var<storage, read_write> out: array<f32>;
      fn helper() -> f32 { let total = 1.0; return total; }
      @compute @workgroup_size(1) fn main() { out[0] = helper(); }
      @group(0) @binding(1) var<storage, read> sums: array<f32>;
      @compute @workgroup_size(1) fn total() { let x = sums[0]; }`;
    expect(kernelLayout(kernel("local", code)).bindings).toEqual([null, "storage"]);
  });

  it("says which binding is missing when an entry point's bindings have a gap", () => {
    const code = `
      @group(0) @binding(1) var<storage, read> a: array<f32>;
      @group(0) @binding(3) var<storage, read_write> out: array<f32>;
      @compute @workgroup_size(1) fn main() { out[0] = a[0]; }`;
    expect(() => kernelLayout(kernel("gap", code))).toThrow(/without gaps/);
  });
});
