// Every op against its float64 reference, forward and finite-difference gradient, and its
// gradients added in place to tensors that already hold values (a gradient slab's path).
import { afterAll, describe, expect, it } from "vitest";
import { dawnGpu } from "../../src/gpu/dawn";
import { Gpu } from "../../src/gpu/gpu";
import { checkOp } from "../../src/ops/check";
import { opFamilies } from "../../src/ops/checks";
import { layerNormDeferred } from "../../src/ops/layernorm";
import { rilsLoss, rilsTargets } from "../../src/ops/loss_rils";
import { sparcContrast, sparcLoss, sparcWeights } from "../../src/ops/loss_sparc";
import { matmul, product } from "../../src/ops/matmul";
import { tidy } from "../../src/tensor/scope";
import { Tensor } from "../../src/tensor/tensor";
import { testGpu } from "../helpers/gpu";

for (const [family, cases] of Object.entries(opFamilies)) {
  describe(family, () => {
    for (const c of cases) {
      it(c.name, async () => {
        const gpu = await testGpu();
        const r = await checkOp(gpu, c, 1, { addedInPlace: true });
        expect(r.ok, r.message).toBe(true);
      });
    }
  });
}

describe("the kernels chosen for the adapter", () => {
  it("on a CPU adapter: the direct product for vec4 operands, else tiled; on a GPU: tiled", async () => {
    const own = await testGpu();
    const gpuShaped = await Gpu.create({ gpu: await dawnGpu(), kernelTarget: "gpu" });
    expect(own.kernelTarget).toBe(own.info.fallback ? "cpu" : "gpu");
    const kernels = async (gpu: Gpu, shapes: [number[], number[]][]) => {
      if (!gpu.profiler) return null;
      gpu.profiler.reset();
      gpu.profiler.enabled = true;
      for (const [a, b] of shapes) tidy(() => product(Tensor.empty(gpu, a), Tensor.empty(gpu, b), {}));
      await gpu.sync();
      gpu.profiler.enabled = false;
      return (await gpu.profiler.report()).map((r) => r.kernel).sort();
    };
    const vec4: [number[], number[]] = [
      [20, 12],
      [12, 44],
    ];
    const odd: [number[], number[]] = [
      [3, 5],
      [5, 7],
    ];
    const ownKernels = await kernels(own, [vec4, odd]);
    if (ownKernels && own.kernelTarget === "cpu") {
      expect(ownKernels).toEqual(["matmul a:f32 b:f32", "matmul direct a:vec4 b:vec4"]);
    }
    const gpuKernels = await kernels(gpuShaped, [vec4, odd]);
    if (gpuKernels) expect(gpuKernels).toEqual(["matmul a:f32 b:f32", "matmul a:vec4 b:vec4"]);
    gpuShaped.destroy();
  });
});

// The ops with a kernel per target again, shaped for the other target than the adapter's own
// (Gpu.kernelTarget): on a CPU adapter (CI) the kernels that GPUs run, on a GPU the CPU ones.
describe("matmul and attention, with the kernels of the other target", () => {
  let other: Promise<Gpu> | null = null;
  const otherGpu = async () => {
    const own = (await testGpu()).kernelTarget;
    other ??= dawnGpu().then((gpu) => Gpu.create({ gpu, kernelTarget: own === "cpu" ? "gpu" : "cpu" }));
    return other;
  };
  afterAll(async () => (await other)?.destroy());
  for (const c of [...opFamilies.matmul, ...opFamilies.attention]) {
    it(c.name, async () => {
      const gpu = await otherGpu();
      const r = await checkOp(gpu, c, 1, { addedInPlace: true });
      expect(r.ok, `${gpu.kernelTarget}: ${r.message}`).toBe(true);
    });
  }
});

describe("SPARC and RILS refuse inputs of the wrong shape, saying which", () => {
  it("names the shapes expected and given", async () => {
    const gpu = await testGpu();
    const t = (shape: number[]) => Tensor.empty(gpu, shape);
    tidy(() => {
      expect(() => sparcWeights(t([3, 0]))).toThrow(
        /sparcWeights: needs similarities \[\.\.\., P\] with P > 0/,
      );
      expect(() => sparcContrast(t([2, 3, 4]), t([2, 3]), 0.1)).toThrow(
        /\[B, L, L\] expected, got \[2, 3, 4\]/,
      );
      expect(() => sparcContrast(t([2, 3, 3]), t([2, 4]), 0.1)).toThrow(/token mask \[2, 3\] expected/);
      expect(() => sparcContrast(t([2, 3, 3]), t([2, 3]), 0)).toThrow(/temperature must be positive/);
      expect(() => sparcLoss(t([2, 3, 8]), t([2, 5, 6]), t([2, 3]), 0.1)).toThrow(
        /tokens \[B, L, D\] and patches \[B, P, D\] expected, got \[2, 3, 8\] and \[2, 5, 6\]/,
      );
      expect(() => rilsTargets(t([6, 8]), t([0, 8]))).toThrow(/sentences \[S, D\] \(S > 0\) expected/);
      expect(() =>
        rilsLoss(t([6, 8]), t([6, 3]), t([3, 8]), t([5]), { student: 0.1, teacher: 0.05 }),
      ).toThrow(/targets \[6, 3\] and weights \[6\] expected, got \[6, 3\] and \[5\]/);
      expect(() => rilsLoss(t([6, 8]), t([6, 3]), t([3, 8]), t([6]), { student: 0.1, teacher: 0 })).toThrow(
        /temperatures must be positive/,
      );
    });
  });
});

describe("a layernorm deferred to a product", () => {
  it("is refused, saying why, by a product that is not a Linear's or whose operand it does not fit", async () => {
    const gpu = await testGpu();
    const t = (shape: number[]) => Tensor.empty(gpu, shape);
    tidy(() => {
      const n = layerNormDeferred(t([5, 4]), t([4]), t([4]));
      // Square, so that without the check the forward would run and the backward be wrong.
      expect(() => matmul(n, t([4, 4]))).toThrow(
        /needs a Linear's layout \(b a 2-D weight \[N, K\], transB\)/,
      );
      expect(() => matmul(n, t([2, 3, 4]), { transB: true })).toThrow(/needs a Linear's layout/);
      expect(() => product(t([5, 6]), t([3, 6]), { transB: true, aNorm: n })).toThrow(
        /an operand normalised on load must be untransposed, unbatched, with statistics for each of its rows/,
      );
    });
  });
});
