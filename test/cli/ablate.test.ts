// `tips ablate` as a user runs it: a row trains, is evaluated on the token it trained and lands in
// the table; a second run keeps it instead of training again; results made with other settings
// or scored on other tokens are refused.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tips } from "../helpers/cli";

describe("tips ablate", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tips-ablate-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const args = (steps: string) => [
    "ablate",
    ...["--preset", "tips-test", "--rows", "B1", "--seeds", "1", "--first-seed", "0"],
    ...["--steps", steps, "--batch", "4"],
    ...["--train", "6", "--test", "4", "--probe-steps", "5", "--out-dir", dir],
  ];

  it("trains and evaluates a row, keeps it for the next run, and refuses mixed settings", async () => {
    const first = await tips(args("2"));
    expect(first.code, first.out).toBe(0);
    expect(first.out).toContain("B1 seed 0: training (CLIP, synthetic captions only)");
    expect(first.out).toMatch(/step 2\/2 loss [\d.]+ \(syn [\d.]+\)/);
    const row = /^\| B1 \| CLIP, synthetic captions only \| 0 \|( [\d.*]+ \|){8}$/m;
    expect(first.out).toMatch(row);
    // One row and one seed: every direction of Table 1 lacks a row or a noise estimate.
    expect(first.out).toContain("| A → B1 | seg mIoU | +10.1 mIoU | - | - | not measured |");
    const table = await readFile(join(dir, "table.md"), "utf8");
    expect(table).toMatch(row);
    expect(table).toContain("tips-test on scenes, 2 steps × batch 4");
    expect(table).toContain("| C1 → C2 | depth RMSE | -0.078 | - | - | not measured |");
    const file = join(dir, "B1-seed0.json");
    const kept = JSON.parse(await readFile(file, "utf8"));
    expect(kept.training.loss.syn).toBeGreaterThan(0);
    expect(kept.training.loss.web).toBeNull();
    // Scored on CLS#2, the token its loss trained.
    expect([kept.result.knn.token, kept.result.zeroShot.token, kept.result.retrieval.web.token]).toEqual([
      "cls2",
      "cls2",
      "cls2",
    ]);
    expect(kept.result.depth.globalToken).toBe("cls2");

    const second = await tips(args("2"));
    expect(second.code, second.out).toBe(0);
    expect(second.out).toContain(`B1 seed 0: kept from ${file}`);
    expect(second.out).not.toContain("training (");
    expect(second.out).toMatch(row);

    const mixed = await tips(args("3"));
    expect(mixed.code).toBe(2);
    expect(mixed.out).toMatch(/B1-seed0\.json was made with other settings .*choose another --out-dir/);

    // A result scored before each row read its own tokens (CLS#1 throughout) is not mixed in.
    delete kept.tokens;
    await writeFile(file, JSON.stringify(kept));
    const stale = await tips(args("2"));
    expect(stale.code).toBe(2);
    expect(stale.out).toMatch(
      /B1-seed0\.json was scored on other CLS tokens than this row trains .*delete it/,
    );

    const help = await tips(["ablate", "--help"]);
    expect(help.out).toMatch(/--seeds N +seeds per row \(default 3\)/);
    for (const id of ["A", "B1", "B2", "B3", "B4", "C1", "C2", "D"])
      expect(help.out).toMatch(new RegExp(`^  ${id} +\\S`, "m"));
    expect(help.out).toContain(
      "B1  CLIP, synthetic captions only [global CLS#2, web CLS#2, synthetic CLS#2]",
    );

    const unknown = await tips(["ablate", "--rows", "Q"]);
    expect(unknown.code).toBe(2);
    expect(unknown.out).toMatch(/unknown ablation row "Q"; rows: A, B1/);
  }, 600_000);
});
