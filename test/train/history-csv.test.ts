import { describe, expect, it } from "vitest";
import { historyCsv } from "../../src/train/history-csv";

describe("historyCsv", () => {
  it("writes a header and one row per step, step first, gaps as empty cells", () => {
    const csv = historyCsv({
      total: [2.5, 2.25],
      step: [1, 2],
      sparc: [null, 1.125],
      imagesPerSecond: [null, Number.NaN],
    });
    expect(csv).toBe("step,total,sparc,imagesPerSecond\n1,2.5,,\n2,2.25,1.125,\n");
  });

  it("reads back the same numbers", () => {
    const total = [Math.PI, 1 / 3, 1e-9];
    const lines = historyCsv({ step: [1, 2, 3], total })
      .trim()
      .split("\n");
    expect(lines.slice(1).map((l) => Number(l.split(",")[1]))).toEqual(total);
  });

  it("has only a header for an empty history", () => {
    expect(historyCsv({ step: [], total: [] })).toBe("step,total\n");
  });

  it("refuses columns of different lengths", () => {
    expect(() => historyCsv({ step: [1, 2], total: [1] })).toThrow(
      /"total" has 1 values, but there are 2 steps/,
    );
  });
});
