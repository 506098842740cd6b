// Shared WGSL included by name (kernels/lib/), resolved when a kernel is defined; no GPU needed.
import { describe, expect, it } from "vitest";
import { KernelError } from "../../src/gpu/errors";
import { kernel } from "../../src/gpu/kernel";
import { includeWgsl, sourceLine } from "../../src/gpu/wgsl-lib";

const source = `// a flat kernel
#include flat_index
#include workgroup
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  out[flat_index(wg, nwg, lid)] = 1.0;
}`;

describe("WGSL includes", () => {
  it("brings in each library file once, nested includes too, after the kernel's own lines", () => {
    const k = kernel({ name: "flat", file: "flat.wgsl", code: source, bindings: ["out"] });
    expect(k.code.match(/const WG = /g)).toHaveLength(1); // flat_index includes workgroup too
    expect(k.code.match(/fn flat_index/g)).toHaveLength(1);
    expect(k.code).not.toMatch(/^#include/m);
    // The kernel's own lines keep their numbers; the library's are named by file and line.
    const lines = k.code.split("\n");
    expect(lines[4]).toBe("@compute @workgroup_size(WG)");
    expect(sourceLine(k.source, 5)).toBe("flat.wgsl:5");
    const wgLine = lines.findIndex((l) => l.startsWith("const WG")) + 1;
    expect(sourceLine(k.source, wgLine)).toMatch(/^lib\/workgroup\.wgsl:\d+$/);
    const flatLine = lines.findIndex((l) => l.startsWith("fn flat_index")) + 1;
    expect(sourceLine(k.source, flatLine)).toMatch(/^lib\/flat_index\.wgsl:\d+$/);
  });

  it("names the kernel and the include it cannot find", () => {
    const make = () => kernel({ name: "lost", code: "#include block_reduction\n", bindings: [] });
    expect(make).toThrow(KernelError);
    expect(make).toThrow(
      /^kernel "lost": lost includes "block_reduction", which kernels\/lib\/ does not have/,
    );
  });

  it("names the library file whose include is unknown", () => {
    const library = { outer: "#include inner\nfn outer() {}", inner: "#include missing\n" };
    expect(() => includeWgsl("k", [{ file: "k.wgsl", text: "#include outer" }], library)).toThrow(
      /lib\/inner\.wgsl includes "missing"/,
    );
  });
});
