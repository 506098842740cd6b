// The ablation's recipes and its table: weights per row, row selection, and mean ± sd over seeds
// with the best of each column marked.
import { describe, expect, it } from "vitest";
import {
  ABLATION_METRICS,
  ABLATION_ROWS,
  formatAblationTable,
  rowWeights,
  selectRows,
  summarize,
} from "../../src/eval/ablation";
import type { EvalResult } from "../../src/eval/evaluate";

/** An evaluation whose every metric is `v` (depth RMSE 1 - v, so that higher v is better throughout). */
function result(v: number): EvalResult {
  const recall = { imageToText: v, textToImage: v };
  return {
    segmentation: { mIoU: v },
    depth: { rmse: 1 - v },
    knn: { top1: v },
    zeroShot: { top1: v },
    retrieval: { web: recall, synthetic: recall, chance: 0.1 },
  } as unknown as EvalResult;
}

describe("ablation", () => {
  it("switches on exactly each row's terms", () => {
    expect(rowWeights(selectRows("A")[0])).toMatchObject({ web: 1, syn: 0, dino: 0, mim: 0 });
    expect(rowWeights(selectRows("c2")[0])).toMatchObject({ web: 1, syn: 0, dino: 1, mim: 1 });
    const e = selectRows("E")[0];
    expect(rowWeights(e)).toMatchObject({ web: 1, syn: 1, dino: 1, mim: 1 });
    expect([e.teacher, e.mimAll]).toEqual(["heads", true]);
    expect(rowWeights(selectRows("F1")[0])).toMatchObject({
      web: 1,
      syn: 1,
      dino: 1,
      mim: 1,
      sparc: 1,
      rils: 0,
    });
    expect(rowWeights(selectRows("F2")[0])).toMatchObject({ sparc: 0, rils: 1 });
    expect(selectRows(undefined)).toBe(ABLATION_ROWS);
  });

  it("names the rows that exist when asked for one that does not", () => {
    expect(() => selectRows("A,Z")).toThrow(
      /unknown ablation row "Z"; rows: A, B1, B2, C1, C2, D, E, F1, F2/,
    );
  });

  it("averages over seeds, gives the sample sd, and marks the best of each column", () => {
    const rows = selectRows("A,D,E");
    const summaries = summarize(rows, [
      { row: "A", seed: 0, result: result(0.2) },
      { row: "A", seed: 1, result: result(0.4) },
      { row: "D", seed: 0, result: result(0.5) },
      { row: "D", seed: 1, result: result(0.7) },
    ]);
    expect(summaries[0].mean[0]).toBeCloseTo(0.3, 12);
    expect(summaries[0].sd[0]).toBeCloseTo(Math.SQRT2 * 0.1, 12);
    expect(summaries[1].mean[1]).toBeCloseTo(0.4, 12); // depth RMSE 1 - 0.6
    expect(summaries[2].seeds).toEqual([]);
    const table = formatAblationTable(summaries).split("\n");
    expect(table).toHaveLength(5);
    expect(table[0]).toContain("depth RMSE ↓");
    expect(table[2]).toMatch(/^\| A \| CLIP, web captions \| 0,1 \| 0\.300 ± 0\.141 \| 0\.7000 ± 0\.1414 \|/);
    // Row D is best everywhere: the highest means, and the lowest RMSE.
    expect(table[3].match(/\*\*/g)).toHaveLength(2 * ABLATION_METRICS.length);
    expect(table[3]).toContain("**0.4000 ± 0.1414**");
    expect(table[4]).toBe(`| E | ${rows[2].label} | - | ${ABLATION_METRICS.map(() => "-").join(" | ")} |`);
  });
});
