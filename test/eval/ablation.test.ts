// The ablation's recipes and its table: weights, caption recipe and scored tokens per row, row
// selection, mean ± sd over seeds with the best of each column marked, metrics left out, and the
// verdict on each direction of the paper's Table 1.
import { describe, expect, it } from "vitest";
import {
  ABLATION_METRICS,
  ABLATION_ROWS,
  checkClaims,
  formatAblationTable,
  formatClaims,
  type RowResult,
  rowTokens,
  rowWeights,
  selectRows,
  summarize,
} from "../../src/eval/ablation";
import type { EvalResult } from "../../src/eval/evaluate";

/**
 * An evaluation whose every metric is `v` (depth RMSE 1 - v, so that higher v is better
 * throughout); synthetic retrieval left out when `noSynthetic`.
 */
function result(v: number, noSynthetic = false): EvalResult {
  const recall = { imageToText: v, textToImage: v };
  return {
    segmentation: { mIoU: v },
    depth: { rmse: 1 - v },
    knn: { top1: v },
    zeroShot: { top1: v },
    retrieval: {
      web: recall,
      synthetic: noSynthetic ? { token: null, imageToText: null, textToImage: null } : recall,
      chance: 0.1,
    },
  } as unknown as EvalResult;
}

const seeds = (row: string, values: number[]): RowResult[] =>
  values.map((v, seed) => ({ row, seed, result: result(v) }));

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
    expect(selectRows("B3")[0]).toMatchObject({ captions: "sample", terms: ["web"] });
    expect(selectRows("B4")[0]).toMatchObject({ captions: "multi", terms: ["web", "syn"] });
  });

  it("scores each row on the CLS token(s) it trained", () => {
    const tokens = (id: string) => rowTokens(selectRows(id)[0]);
    expect(tokens("A")).toEqual({ image: "cls1", zeroShot: "cls1", web: "cls1", synthetic: "cls1" });
    // Synthetic captions only: CLS#2 is the one trained token, for every metric.
    expect(tokens("B1")).toEqual({ image: "cls2", zeroShot: "cls2", web: "cls2", synthetic: "cls2" });
    expect(tokens("B2")).toEqual({ image: "cls1", zeroShot: "cls1", web: "cls1", synthetic: "cls2" });
    for (const id of ["B3", "B4"])
      expect(Object.values(tokens(id))).toEqual(["cls1", "cls1", "cls1", "cls1"]);
    expect(tokens("E")).toEqual(tokens("B2"));
    // A row without a CLIP term leaves zero-shot and retrieval out; self-distillation trains CLS#1.
    const dinoOnly = { ...selectRows("C1")[0], terms: ["dino" as const] };
    expect(rowTokens(dinoOnly)).toEqual({ image: "cls1", zeroShot: null, web: null, synthetic: null });
  });

  it("names the rows that exist when asked for one that does not", () => {
    expect(() => selectRows("A,Z")).toThrow(
      /unknown ablation row "Z"; rows: A, B1, B2, B3, B4, C1, C2, D, E, F1, F2/,
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

  it("prints a metric left out as - and keeps it out of the column's best", () => {
    const rows = selectRows("A,B2");
    const summaries = summarize(rows, [
      { row: "A", seed: 0, result: result(0.9, true) },
      { row: "B2", seed: 0, result: result(0.5) },
    ]);
    const syn = ABLATION_METRICS.findIndex((m) => m.name === "syn I→T");
    expect([summaries[0].mean[syn], summaries[0].sd[syn]]).toEqual([null, null]);
    const [, , a, b2] = formatAblationTable(summaries).split("\n");
    expect(a.split(" | ")[3 + syn]).toBe("-");
    expect(b2.split(" | ")[3 + syn]).toBe("**0.500**");
  });

  it("says whether each direction of Table 1 is reproduced, reversed or within noise", () => {
    const rows = selectRows("A,B1,C1,C2,D");
    const checks = checkClaims(
      summarize(rows, [
        ...seeds("A", [0.3, 0.4, 0.5]), // mean 0.4, sd 0.1
        ...seeds("B1", [0.1, 0.2, 0.3]), // 0.2: lower mIoU and higher RMSE than A, higher kNN
        ...seeds("C1", [0.5, 0.5]),
        ...seeds("C2", [0.45, 0.55]), // the same mean as C1
      ]),
    );
    const verdict = (from: string, to: string, metric: string) =>
      checks.find((c) => c.claim.from === from && c.claim.to === to && c.claim.metric === metric);
    expect(verdict("A", "B1", "seg mIoU")).toMatchObject({ verdict: "reversed" });
    expect(verdict("A", "B1", "seg mIoU")?.diff).toBeCloseTo(-0.2, 12);
    expect(verdict("A", "B1", "seg mIoU")?.noise).toBeCloseTo(Math.SQRT2 * 0.1, 12);
    expect(verdict("A", "B1", "depth RMSE")?.verdict).toBe("reversed");
    expect(verdict("B1", "A", "kNN top-1")?.verdict).toBe("reproduced");
    expect(verdict("C1", "C2", "seg mIoU")?.verdict).toBe("within noise");
    expect(verdict("A", "D", "seg mIoU")).toMatchObject({ diff: null, verdict: "not measured" });
    const oneSeed = checkClaims(summarize(selectRows("A,B1"), [...seeds("A", [0.1]), ...seeds("B1", [0.9])]));
    expect(oneSeed[0]).toMatchObject({ verdict: "needs 2+ seeds" });
    expect(oneSeed[0].diff).toBeCloseTo(0.8, 12);
    const table = formatClaims(checks).split("\n");
    expect(table[0]).toBe("| rows | metric | paper | here (to − from) | noise | verdict |");
    expect(table[2]).toBe("| A → B1 | seg mIoU | +10.1 mIoU | -0.200 | 0.141 | reversed |");
    expect(table[3]).toBe("| A → B1 | depth RMSE | -0.076 | +0.2000 | 0.1414 | reversed |");
  });
});
