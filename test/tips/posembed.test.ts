import { describe, expect, it } from "vitest";
import { resizeMatrix1d, resizeMatrix2d } from "../../src/tips/posembed";

function apply(r: ArrayLike<number>, x: number[], out: number): number[] {
  return Array.from({ length: out }, (_, i) => x.reduce((s, v, j) => s + r[i * x.length + j] * v, 0));
}

describe("position-embedding resize (torch bilinear, antialias, align_corners=False)", () => {
  it("is the identity at the same size", () => {
    const r = resizeMatrix1d(5, 5);
    expect(apply(r, [1, 2, 3, 4, 5], 5)).toEqual([1, 2, 3, 4, 5]);
  });

  it("upsamples 2 -> 4 as torch does", () => {
    // torch.nn.functional.interpolate(tensor([[[[0., 4.]]]]), size=(1, 4), mode="bilinear",
    // antialias=True, align_corners=False) -> [0, 1, 3, 4]
    const got = apply(resizeMatrix1d(2, 4), [0, 4], 4);
    for (const [i, v] of [0, 1, 3, 4].entries()) expect(got[i]).toBeCloseTo(v, 12);
  });

  it("downsamples 4 -> 2 with the antialiasing triangle filter", () => {
    // torch gives [0.7142857, 2.2857143] for [0, 1, 2, 3] -> size 2 with antialias=True
    const got = apply(resizeMatrix1d(4, 2), [0, 1, 2, 3], 2);
    expect(got[0]).toBeCloseTo(5 / 7, 12);
    expect(got[1]).toBeCloseTo(16 / 7, 12);
  });

  it("has rows that sum to 1 for grids such as 32 -> 16, 32 -> 7, 8 -> 4, 4 -> 8", () => {
    for (const [a, b] of [
      [32, 16],
      [32, 7],
      [8, 4],
      [4, 8],
      [37, 16],
    ]) {
      const r = resizeMatrix1d(a, b);
      for (let i = 0; i < b; i++) {
        let s = 0;
        for (let j = 0; j < a; j++) s += r[i * a + j];
        expect(s).toBeCloseTo(1, 12);
      }
    }
  });

  it("2-D matrix is the product of the 1-D ones", () => {
    const r = resizeMatrix2d(4, 6, 2, 3);
    const rh = resizeMatrix1d(4, 2);
    const rw = resizeMatrix1d(6, 3);
    expect(r[(1 * 3 + 2) * 24 + (3 * 6 + 5)]).toBeCloseTo(rh[1 * 4 + 3] * rw[2 * 6 + 5], 6);
  });
});

describe("position-embedding resize against PyTorch", () => {
  it("matches F.interpolate(bilinear, antialias=True) on a random 9x11 grid to several sizes", async () => {
    // Made by torch 1.13: x = randn(1,1,9,11); F.interpolate(x, size, mode="bilinear",
    // antialias=True, align_corners=False) for each size.
    const fixture = (await import("../fixtures/posembed_resize.json")).default as {
      input: { shape: number[]; values: number[] };
      resized: { shape: number[]; values: number[] }[];
    };
    const [inH, inW] = fixture.input.shape;
    for (const { shape, values } of fixture.resized) {
      const r = resizeMatrix2d(inH, inW, shape[0], shape[1]);
      const got = apply(r, fixture.input.values, values.length);
      for (const [i, v] of values.entries()) expect(Math.abs(got[i] - v)).toBeLessThan(1e-6);
    }
  });
});
