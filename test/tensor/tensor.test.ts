// Tensors, scopes, the tape and the seeded generator.
import { describe, expect, it } from "vitest";
import { valueAndGrad } from "../../src/ops/autograd";
import { add, mul, scale } from "../../src/ops/elementwise";
import { fill } from "../../src/ops/elementwise_kernels";
import { layerNorm } from "../../src/ops/layernorm";
import { matmul } from "../../src/ops/matmul";
import { sum } from "../../src/ops/reduce";
import { ParameterStore } from "../../src/tensor/params";
import { Rng } from "../../src/tensor/rng";
import { keep, tidy } from "../../src/tensor/scope";
import { Tensor } from "../../src/tensor/tensor";
import { testGpu } from "../helpers/gpu";

describe("Tensor", () => {
  it("round-trips f32, i32 and u32 data", async () => {
    const gpu = await testGpu();
    const f = Tensor.from(gpu, [1.5, -2, 3], [3]);
    const i = Tensor.from(gpu, [-1, 0, 7], [3], "i32");
    const u = Tensor.from(gpu, [4294967295, 0, 9], [3], "u32");
    expect([...(await f.read())]).toEqual([1.5, -2, 3]);
    expect([...(await i.read())]).toEqual([-1, 0, 7]);
    expect([...(await u.read())]).toEqual([4294967295, 0, 9]);
    for (const t of [f, i, u]) t.dispose();
  });

  it("rejects data that does not fill the shape, and bad shapes", async () => {
    const gpu = await testGpu();
    expect(() => Tensor.from(gpu, [1, 2, 3], [2, 2])).toThrow(/3 values do not fill shape \[2, 2\]/);
    expect(() => Tensor.empty(gpu, [2, -1])).toThrow(/invalid tensor shape/);
  });

  it("reshape shares the buffer and keeps it alive until the last view is gone", async () => {
    const gpu = await testGpu();
    const a = Tensor.from(gpu, [1, 2, 3, 4, 5, 6], [2, 3]);
    const b = a.reshape([3, -1]);
    expect(b.shape).toEqual([3, 2]);
    a.dispose();
    expect([...(await b.read())]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => a.buffer).toThrow(/used after dispose/);
    expect(() => b.reshape([4, 2])).toThrow(/cannot become \[4, 2\]/);
    b.dispose();
  });

  it("assign overwrites in stream order", async () => {
    const gpu = await testGpu();
    const p = Tensor.from(gpu, [1, 2], [2]);
    tidy(() => p.assign(scale(p, 10)));
    expect([...(await p.read())]).toEqual([10, 20]);
    p.dispose();
  });
});

describe("tidy", () => {
  it("disposes intermediates and keeps what is returned", async () => {
    const gpu = await testGpu();
    const x = Tensor.from(gpu, [1, 2], [2]);
    let inner: Tensor | null = null;
    const y = tidy(() => {
      inner = scale(x, 2);
      return add(inner, x);
    });
    expect((inner as unknown as Tensor).isDisposed).toBe(true);
    expect(y.isDisposed).toBe(false);
    expect(x.isDisposed).toBe(false);
    expect([...(await y.read())]).toEqual([3, 6]);
    y.dispose();
    x.dispose();
  });

  it("keep() lets a tensor outlive its scope; nested scopes hand results outwards", async () => {
    const gpu = await testGpu();
    const x = Tensor.from(gpu, [1], [1]);
    let kept: Tensor | null = null;
    const outer = tidy(() => {
      const mid = tidy(() => scale(x, 3));
      kept = keep(scale(x, 5));
      return { mid };
    });
    expect(outer.mid.isDisposed).toBe(false);
    expect((kept as unknown as Tensor).isDisposed).toBe(false);
    expect((await outer.mid.read())[0]).toBe(3);
    outer.mid.dispose();
    (kept as unknown as Tensor).dispose();
    x.dispose();
  });

  it("refuses async functions", async () => {
    expect(() => tidy(async () => 1)).toThrow(/synchronous/);
  });
});

function keepAll(ts: Tensor[]): Tensor[] {
  return ts.map((t) => keep(t));
}

describe("autograd", () => {
  it("sums gradients of a tensor used twice and returns zeros for unused ones", async () => {
    const gpu = await testGpu();
    const x = Tensor.from(gpu, [1, 2, 3], [3]);
    const unused = Tensor.from(gpu, [5], [1]);
    const r = tidy(() => {
      // f = sum(x * x + 3x) -> df/dx = 2x + 3
      const { value, grads } = valueAndGrad(() => sum(add(mul(x, x), scale(x, 3))), [x, unused]);
      return { value, dx: grads[0], du: grads[1] };
    });
    expect((await r.value.read())[0]).toBe(1 + 4 + 9 + 3 * 6);
    expect([...(await r.dx.read())]).toEqual([5, 7, 9]);
    expect([...(await r.du.read())]).toEqual([0]);
    for (const t of [x, unused, r.value, r.dx, r.du]) t.dispose();
  });

  it("differentiates through reshape views, before and after an op", async () => {
    const gpu = await testGpu();
    const x = Tensor.from(gpu, [1, 2, 3, 4, 5, 6], [2, 3]);
    const w = Tensor.from(gpu, [1, 10, 100], [3]);
    const r = tidy(() => {
      // f = sum(reshape(reshape(x, [3, 2]), [2, 3]) * w) reshaped to [1] -> df/dx = w per row
      const { value, grads } = valueAndGrad(
        () => sum(mul(x.reshape([3, 2]).reshape([2, 3]), w)).reshape([1]),
        [x],
      );
      return { value, dx: grads[0] };
    });
    expect((await r.value.read())[0]).toBe(1 + 20 + 300 + 4 + 50 + 600);
    expect(r.dx.shape).toEqual([2, 3]);
    expect([...(await r.dx.read())]).toEqual([1, 10, 100, 1, 10, 100]);
    for (const t of [x, w, r.value, r.dx]) t.dispose();
  });

  // Every op that adds to a gradient in place: matmul (weights folded and direct, bias),
  // layerNorm's finish, a broadcast mul's reduction, and an identity sumToShape; w is used twice.
  it("adds gradients in place to given tensors (into) exactly as it returns them otherwise", async () => {
    const gpu = await testGpu();
    const rng = new Rng(3);
    const store = new ParameterStore(gpu);
    const make = (name: string, shape: number[]) =>
      store.create(
        name,
        shape,
        Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal()),
      );
    const w = make("w", [5, 4]);
    const b = make("b", [5]);
    const gamma = make("gamma", [5]);
    const beta = make("beta", [5]);
    const ls = make("ls", [5]);
    const shift = make("shift", [3, 2, 5]);
    const x = Tensor.from(
      gpu,
      Array.from({ length: 24 }, () => rng.normal()),
      [3, 2, 4],
    );
    const params = store.tensors;
    const loss = () => {
      const h = add(mul(layerNorm(matmul(x, w, { transB: true, bias: b }), gamma, beta), ls), shift);
      const again = matmul(x.reshape([6, 4]), w, { transB: true }).reshape([3, 2, 5]);
      return sum(mul(h, again));
    };
    const plain = tidy(() => keepAll(valueAndGrad(loss, params).grads));
    const sums = store.mirror();
    for (const t of sums.views) fill(t, 0.5);
    tidy(() => valueAndGrad(loss, params, undefined, sums.views));
    for (const [i, g] of plain.entries()) {
      const want = [...(await g.read())].map((v) => v + 0.5);
      const got = [...(await sums.views[i].read())];
      for (const [j, v] of got.entries()) expect(v).toBeCloseTo(want[j], 4);
      g.dispose();
    }
    for (const t of sums.views) t.dispose();
    sums.slab.destroy();
    store.dispose();
    x.dispose();
  }, 300_000);

  it("with retain, releases what fn made during the backward, except the value and the retained", async () => {
    const gpu = await testGpu();
    const x = Tensor.from(gpu, [1, 2, 3], [3]);
    const w = Tensor.from(gpu, [4, 5, 6], [3]);
    const made: Tensor[] = [];
    const loss = () => {
      const h = mul(x, w);
      const side = scale(x, 2);
      made.push(h, side);
      return sum(mul(h, h)); // df/dx = 2 w^2 x
    };
    const r = tidy(() => {
      const { value, grads } = valueAndGrad(loss, [x], undefined, undefined, () => [made[1]]);
      expect(made[0].isDisposed).toBe(true);
      expect([value.isDisposed, made[1].isDisposed]).toEqual([false, false]);
      return { value, dx: grads[0], side: made[1] };
    });
    expect((await r.value.read())[0]).toBe(16 + 100 + 324);
    expect([...(await r.dx.read())]).toEqual([32, 100, 216]);
    expect([...(await r.side.read())]).toEqual([2, 4, 6]);
    for (const t of [x, w, r.value, r.dx, r.side]) t.dispose();
  });

  it("requires a seed for a non-scalar value", async () => {
    const gpu = await testGpu();
    const x = Tensor.from(gpu, [1, 2], [2]);
    expect(() => tidy(() => valueAndGrad(() => scale(x, 2), [x]))).toThrow(/pass a seed gradient/);
    x.dispose();
  });
});

describe("Rng", () => {
  it("is deterministic per seed and resumable from its state", () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const seq = [...Array(5)].map(() => a.nextU32());
    expect([...Array(5)].map(() => b.nextU32())).toEqual(seq);
    const saved = a.state;
    const next = [a.uniform(), a.normal()];
    const c = new Rng(0);
    c.state = saved;
    expect([c.uniform(), c.normal()]).toEqual(next);
    expect(new Rng(43).nextU32()).not.toBe(seq[0]);
  });

  it("draws uniform and normal values with the right moments", () => {
    const r = new Rng(7);
    const u = r.uniformArray(20000);
    const n = Float64Array.from({ length: 20000 }, () => r.normal());
    const meanU = u.reduce((s, v) => s + v, 0) / u.length;
    const meanN = n.reduce((s, v) => s + v, 0) / n.length;
    const varN = n.reduce((s, v) => s + (v - meanN) ** 2, 0) / n.length;
    expect(Math.abs(meanU - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(meanN)).toBeLessThan(0.03);
    expect(Math.abs(varN - 1)).toBeLessThan(0.05);
    const t = r.truncNormal(5000, 0.02);
    expect(Math.max(...t.map(Math.abs))).toBeLessThanOrEqual(0.04);
  });
});

describe("ParameterStore", () => {
  it("creates named parameters, loads checked shapes, refuses duplicates", async () => {
    const gpu = await testGpu();
    const ps = new ParameterStore(gpu);
    const w = ps.create("fc.weight", [2, 3], [1, 2, 3, 4, 5, 6]);
    expect(w.requiresGrad).toBe(true);
    expect(ps.count).toBe(6);
    expect(() => ps.create("fc.weight", [1], [0])).toThrow(/already exists/);
    expect(() => ps.load("fc.weight", [3, 2], new Float32Array(6))).toThrow(
      /values have shape \[3, 2\], model has \[2, 3\]/,
    );
    ps.load("fc.weight", [2, 3], [6, 5, 4, 3, 2, 1]);
    expect([...(await ps.get("fc.weight").read())]).toEqual([6, 5, 4, 3, 2, 1]);
    expect(() => ps.get("nope")).toThrow(/no parameter named nope/);
    // Many parameters grow the slab; earlier views keep their values.
    for (let i = 0; i < 300; i++) ps.create(`p${i}`, [7, 11], new Float32Array(77).fill(i));
    expect([...(await ps.get("fc.weight").read())]).toEqual([6, 5, 4, 3, 2, 1]);
    expect((await ps.get("p123").read())[76]).toBe(123);
    const bias = ps.create("fc.bias", [3], [0, 0, 0]);
    const mask = ps.decayMask();
    const bit = (i: number) => (mask[i >>> 5] >>> (i & 31)) & 1;
    expect(bit(w.offset / 4)).toBe(1);
    expect(bit(bias.offset / 4)).toBe(0);
    ps.dispose();
  });

  it("fit() gives back the room growth left and keeps every value", async () => {
    const gpu = await testGpu();
    const ps = new ParameterStore(gpu);
    for (let i = 0; i < 300; i++) ps.create(`p${i}`, [7, 11], new Float32Array(77).fill(i));
    const before = gpu.pool.bytesCreated;
    const spare = ps.slab.buffer.size - ps.slab.used;
    expect(spare).toBeGreaterThan(0); // growth doubles the buffer
    ps.fit();
    expect(ps.slab.buffer.size).toBe(ps.slab.used);
    expect(gpu.pool.bytesCreated).toBe(before - spare);
    expect((await ps.get("p0").read())[0]).toBe(0);
    expect((await ps.get("p299").read())[76]).toBe(299);
    ps.fit(); // nothing to give back: the same buffer
    expect(gpu.pool.bytesCreated).toBe(before - spare);
    ps.dispose();
  });
});
