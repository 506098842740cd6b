// `tips ablate` as a user runs it: a row trains, is evaluated and lands in the table; a second
// run keeps it instead of training again; results made with other settings are refused.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

function tips(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ["bin/tips.mjs", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    out += d;
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out })));
}

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
    ...["--preset", "tips-test", "--rows", "C1", "--steps", steps, "--batch", "4"],
    ...["--train", "6", "--test", "4", "--probe-steps", "5", "--out-dir", dir],
  ];

  it("trains and evaluates a row, keeps it for the next run, and refuses mixed settings", async () => {
    const first = await tips(args("2"));
    expect(first.code, first.out).toBe(0);
    expect(first.out).toContain("C1 seed 0: training (web + self-distillation)");
    expect(first.out).toMatch(/step 2\/2 loss [\d.]+ \(web [\d.]+ dino [\d.]+\)/);
    const row = /^\| C1 \| web \+ self-distillation \| 0 \|( [\d.*]+ \|){8}$/m;
    expect(first.out).toMatch(row);
    const table = await readFile(join(dir, "table.md"), "utf8");
    expect(table).toMatch(row);
    expect(table).toContain("tips-test on scenes, 2 steps × batch 4");
    const kept = JSON.parse(await readFile(join(dir, "C1-seed0.json"), "utf8"));
    expect(kept.training.loss.dino).toBeGreaterThan(0);
    expect(kept.training.loss.mim).toBeNull();

    const second = await tips(args("2"));
    expect(second.code, second.out).toBe(0);
    expect(second.out).toContain(`C1 seed 0: kept from ${join(dir, "C1-seed0.json")}`);
    expect(second.out).not.toContain("training (");
    expect(second.out).toMatch(row);

    const mixed = await tips(args("3"));
    expect(mixed.code).toBe(2);
    expect(mixed.out).toMatch(/C1-seed0\.json was made with other settings .*choose another --out-dir/);

    const unknown = await tips(["ablate", "--rows", "Q"]);
    expect(unknown.code).toBe(2);
    expect(unknown.out).toMatch(/unknown ablation row "Q"; rows: A, B1/);
  }, 600_000);
});
