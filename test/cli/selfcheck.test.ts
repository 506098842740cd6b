// `tips selfcheck` as a user runs it, and the check runner it shares with the app's Self-check
// page: a wrong kernel and a throwing one are each one failed case, and the rest goes on.
import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import type { CheckResult, OpCase } from "../../src/ops/check";
import { opFamilies, runChecks } from "../../src/ops/checks";
import { scale } from "../../src/ops/elementwise";
import { testGpu } from "../helpers/gpu";

const tips = (args: string[]) => spawnSync(process.execPath, ["bin/tips.mjs", ...args], { encoding: "utf8" });

describe("tips selfcheck", () => {
  it("checks the families asked for and says how many passed", () => {
    const r = tips(["selfcheck", "--family", "gelu"]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const n = opFamilies.gelu.length;
    expect(r.stdout).toContain(`gelu: ${n}/${n} passed`);
    expect(r.stdout).toMatch(new RegExp(`^${n} passed, 0 failed in [0-9.]+ s$`, "m"));
  }, 300_000);

  it("names the families when asked for one that does not exist", () => {
    const r = tips(["selfcheck", "--family", "gelu,matmull"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown family "matmull"; families: elementwise,');
  });

  describe("the check runner", () => {
    afterEach(() => {
      delete opFamilies.broken;
    });

    it("reports a wrong kernel and a throwing one as failed cases and checks the rest", async () => {
      const input = { shape: [3, 5] };
      const twice = (x: Float64Array[]) => x[0].map((v) => 2 * v);
      const cases: OpCase[] = [
        { name: "wrong", inputs: [input], noGrad: true, run: ([x]) => scale(x, 3), reference: twice },
        {
          name: "throws",
          inputs: [input],
          noGrad: true,
          run: () => {
            throw new Error("no kernel");
          },
          reference: twice,
        },
        { name: "right", inputs: [input], noGrad: true, run: ([x]) => scale(x, 2), reference: twice },
      ];
      opFamilies.broken = cases;
      const results: CheckResult[] = [];
      await runChecks(await testGpu(), (_family, _index, r) => results.push(r), ["broken"]);
      expect(results.map((r) => [r.name, r.ok])).toEqual([
        ["wrong", false],
        ["throws", false],
        ["right", true],
      ]);
      expect(results[0].message).toMatch(/^forward error/);
      expect(results[1].message).toBe("Error: no kernel");
    });
  });
});
