// Labels derived from a scene's ground truth: patch majorities, patch means, nearest upsampling,
// and the main object of an image.
import { describe, expect, it } from "vitest";
import { renderScene, SCENES_CLASSES, SHAPES } from "../../src/data/scenes/scene";
import { mainObjectClass, patchMajority, patchMean, upsampleNearest } from "../../src/eval/labels";

describe("scene labels", () => {
  it("takes the majority class and the mean of each patch, row-major", () => {
    // 4x4 pixels, patches of 2: top-left patch has three 1s, top-right a 2/0 tie (-> 0).
    const classMap = Uint8Array.from([1, 1, 2, 2, 1, 0, 0, 0, 3, 3, 0, 0, 3, 0, 0, 0]);
    expect(Array.from(patchMajority(classMap, 4, 2, 4))).toEqual([1, 0, 3, 0]);
    const depth = Float32Array.from({ length: 16 }, (_, i) => i);
    expect(Array.from(patchMean(depth, 4, 2))).toEqual([2.5, 4.5, 10.5, 12.5]);
    expect(Array.from(upsampleNearest(Int32Array.from([1, 0, 3, 0]), 4, 2))).toEqual([
      1, 1, 0, 0, 1, 1, 0, 0, 3, 3, 0, 0, 3, 3, 0, 0,
    ]);
    expect(() => patchMajority(classMap, 4, 3, 4)).toThrow(/whole number/);
  });

  it("patch labels upsampled agree with most pixels of a real scene", () => {
    const s = renderScene(3, { size: 64, split: "heldout" });
    const up = upsampleNearest(patchMajority(s.classMap, 64, 8, SCENES_CLASSES.length), 64, 8);
    let same = 0;
    for (let i = 0; i < up.length; i++) if (up[i] === s.classMap[i]) same++;
    expect(same / up.length).toBeGreaterThan(0.8);
  });

  it("names the object covering the most pixels as the main object", () => {
    for (let i = 0; i < 10; i++) {
      const s = renderScene(i, { size: 48, split: "train" });
      const c = mainObjectClass(s);
      expect(c).toBeGreaterThanOrEqual(0);
      expect(c).toBeLessThan(SHAPES.length);
      const counts = new Array(s.objects.length + 1).fill(0);
      for (const id of s.instanceMap) counts[id]++;
      const most = Math.max(...counts.slice(1));
      const winners = s.objects.filter((_, j) => counts[j + 1] === most).map((o) => SHAPES.indexOf(o.shape));
      expect(winners).toContain(c);
    }
  });
});
