// Attention's workgroup width (no GPU needed): on a CPU adapter every thread runs all its row
// sets whether their rows exist or not, so the idle rows of a dispatch are work done for nothing.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ceilDiv } from "../../src/gpu/kernel";
import { attentionThreads } from "../../src/ops/attention";

describe("attention's workgroup width", () => {
  it("on a GPU is 64 threads for any sequence", () => {
    for (const seq of [1, 66, 257, 1000]) expect(attentionThreads("gpu", seq, 4)).toBe(64);
  });

  it("on a CPU adapter covers the sequence in as many workgroups as 64 threads would, less than 4 threads idle in each", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.constantFrom(1, 2, 4), (seq, r) => {
        const threads = attentionThreads("cpu", seq, r);
        const workgroups = ceilDiv(seq, r * threads);
        expect(threads % 4).toBe(0);
        expect(threads).toBeLessThanOrEqual(64);
        expect(workgroups).toBe(ceilDiv(seq, r * 64));
        expect(workgroups * r * threads - seq).toBeLessThan(workgroups * r * 4);
      }),
    );
  });

  it("at ViT-S/14's 257 rows, 4 a thread: 2 workgroups of 36 threads, not 64", () => {
    expect(attentionThreads("cpu", 257, 4)).toBe(36);
  });
});
