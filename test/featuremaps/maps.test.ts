// Probe maps on hand-computed answers.
import { describe, expect, it } from "vitest";
import {
  classColour,
  cosineMap,
  heatColour,
  range,
  rankTexts,
  segment,
  upsample,
} from "../../src/featuremaps/maps";

describe("probe maps", () => {
  it("cosineMap: cosine of each row with the query; a zero row scores 0", () => {
    const rows = new Float32Array([1, 0, 0, 2, 3, 4, 0, 0, -1, -1]);
    const m = cosineMap(rows, 5, 2, [2, 0]);
    expect(Array.from(m)).toEqual([1, 0, 0.6, 0, -Math.SQRT1_2].map((v) => expect.closeTo(v, 6)));
  });

  it("segment: the class of highest cosine per row, first on ties, with counts", () => {
    // Classes: +x, +y, -x. Rows: along x, along y, diagonal (tie between +x and +y), along -x.
    const rows = [5, 0.1, 0.2, 3, 1, 1, -2, 0];
    const s = segment(rows, 4, 2, [1, 0, 0, 1, -1, 0], 3);
    expect(Array.from(s.labels)).toEqual([0, 1, 0, 2]);
    expect(Array.from(s.counts)).toEqual([2, 1, 1]);
    expect(s.scores[2]).toBeCloseTo(Math.SQRT1_2, 6);
  });

  it("rankTexts: best cosine first", () => {
    const r = rankTexts([1, 0], [0, 1, 1, 1, 1, 0, -1, 0], 4);
    expect(r.map((x) => x.index)).toEqual([2, 1, 0, 3]);
    expect(r[1].score).toBeCloseTo(Math.SQRT1_2, 6);
  });

  it("upsample: bilinear between patch centres, clamped at the edges", () => {
    // A 2 x 1 grid [0, 4] to 4 x 1: centres at x = 1 and 3 of the output; 0.5-pixel offsets.
    expect(Array.from(upsample([0, 4], 2, 1, 4, 1))).toEqual([0, 1, 3, 4]);
    // Same size: the identity.
    const g = [1, 2, 3, 4, 5, 6];
    expect(Array.from(upsample(g, 3, 2, 3, 2))).toEqual(g);
    // 2 x 2 to 4 x 4: the centre four pixels mix all four patches.
    const u = upsample([0, 4, 8, 12], 2, 2, 4, 4);
    expect(u[5]).toBeCloseTo(0.75 * 0.75 * 0 + 0.25 * 0.75 * 4 + 0.75 * 0.25 * 8 + 0.25 * 0.25 * 12, 6);
    expect(u[0]).toBe(0);
    expect(u[15]).toBe(12);
  });

  it("range skips non-finite values; colours are defined at both ends", () => {
    expect(range([3, Number.NaN, -1, 2])).toEqual([-1, 3]);
    expect(range([])).toEqual([0, 0]);
    expect(heatColour(0)).toEqual([0, 0, 4]);
    expect(heatColour(1)).toEqual([252, 255, 164]);
    expect(heatColour(2)).toEqual(heatColour(1));
    expect(classColour(12)).toEqual(classColour(0));
    expect(classColour(1)).not.toEqual(classColour(0));
  });
});
