// Every op against its float64 reference, forward and finite-difference gradient.
import { describe, expect, it } from "vitest";
import { checkOp } from "../src/ops/check";
import { opFamilies } from "../src/ops/checks";
import { testGpu } from "./gpu";

for (const [family, cases] of Object.entries(opFamilies)) {
  describe(family, () => {
    for (const c of cases) {
      it(c.name, async () => {
        const gpu = await testGpu();
        const r = await checkOp(gpu, c);
        expect(r.ok, r.message).toBe(true);
      });
    }
  });
}
