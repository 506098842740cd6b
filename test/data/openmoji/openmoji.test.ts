// The built-in OpenMoji dataset: a fixed held-out split, clean captions, class labels, and
// images that decode.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeImage } from "../../../src/data/decode-node";
import {
  OPENMOJI_LICENSE,
  OPENMOJI_SIZE,
  OpenMoji,
  type OpenMojiRecord,
  openMojiClassName,
  openMojiSamples,
  openMojiSplitOf,
} from "../../../src/data/openmoji/dataset";
import {
  loadOpenMojiRecords,
  nodeOpenMojiRenderer,
  openMojiPackageDir,
} from "../../../src/data/openmoji/load-node";
import { emptySkipCounts } from "../../../src/data/skips";

const utf8 = new TextDecoder("utf-8", { fatal: true });
/** Well-formed text: survives UTF-8 encoding unchanged (a lone surrogate would not). */
const wellFormed = (s: string) => utf8.decode(new TextEncoder().encode(s)) === s;

describe("openmoji", () => {
  let records: OpenMojiRecord[] = [];
  let dataset: OpenMoji;
  beforeAll(async () => {
    records = await loadOpenMojiRecords();
    dataset = new OpenMoji(records);
  });

  it("is the npm package's data, licensed CC BY-SA 4.0", async () => {
    const pkg = JSON.parse(await readFile(join(openMojiPackageDir(), "package.json"), "utf8"));
    expect(pkg.license).toBe("CC-BY-SA-4.0");
    expect(OPENMOJI_LICENSE).toBe("CC BY-SA 4.0");
    expect(records.length).toBeGreaterThan(4000);
    expect(dataset.entries).toHaveLength(records.length);
    expect(new Set(dataset.entries.map((e) => e.key)).size).toBe(records.length);
  });

  it("has a fixed held-out split of about 10%, the same for every seed, variants with their base", () => {
    const heldout = dataset.split("heldout");
    const train = dataset.split("train");
    expect(heldout.length + train.length).toBe(records.length);
    expect(heldout.length / records.length).toBeGreaterThan(0.07);
    expect(heldout.length / records.length).toBeLessThan(0.13);
    // Pinned: changing the split would silently mix evaluation data into training.
    expect(heldout.slice(0, 5).map((e) => e.key)).toEqual([
      "1F601",
      "1F928",
      "1F610",
      "1F642-200D-2195-FE0F",
      "1F60C",
    ]);
    expect(openMojiSplitOf("1F600")).toBe("train");
    const other = new OpenMoji(records, { seed: 7 });
    expect(other.split("heldout").map((e) => e.key)).toEqual(heldout.map((e) => e.key));
    const splitOf = new Map(dataset.entries.map((e) => [e.key, e.split]));
    const variants = dataset.entries.filter((e) => e.base !== e.key);
    expect(variants.length).toBeGreaterThan(1000);
    for (const v of variants) expect(v.split, v.key).toBe(splitOf.get(v.base) ?? openMojiSplitOf(v.base));
    const bases = new OpenMoji(records, { skinTones: false });
    expect(bases.entries.length).toBe(records.length - variants.length);
    expect(bases.split("heldout").every((e) => e.base === e.key)).toBe(true);
  });

  it("gives every emoji a non-empty, trimmed, well-formed web and synthetic caption", () => {
    for (const e of dataset.entries) {
      for (const caption of [e.webCaption, e.syntheticCaption]) {
        expect(caption.length, e.key).toBeGreaterThan(0);
        expect(caption.trim(), e.key).toBe(caption);
        expect(wellFormed(caption), e.key).toBe(true);
      }
      expect(e.syntheticCaption).toContain(e.annotation.split(":")[0]);
      expect(e.syntheticCaption).toContain(openMojiClassName("group", e.group));
    }
    // Web captions are noisy: mostly the name or a tag, and they change with the seed.
    const web = dataset.entries.map((e) => e.webCaption);
    const named = dataset.entries.filter((e) => e.webCaption === e.annotation).length;
    expect(named / web.length).toBeGreaterThan(0.2);
    expect(named / web.length).toBeLessThan(0.6);
    const reseeded = new OpenMoji(records, { seed: 1 }).entries.map((e) => e.webCaption);
    expect(reseeded.filter((c, i) => c !== web[i]).length).toBeGreaterThan(web.length / 3);
    expect(new OpenMoji(records).entries.map((e) => e.webCaption)).toEqual(web); // deterministic
    const grinning = dataset.entries.find((e) => e.key === "1F600")!;
    expect(grinning.syntheticCaption).toBe(
      "A flat, colorful emoji icon of grinning face with black outlines on a white background, from the " +
        "smileys and emotion category (face smiling). Keywords: cheerful, cheery, face, grin, grinning, " +
        "happy, laugh, nice.",
    );
  });

  it("labels every emoji with its group and subgroup", () => {
    const groups = dataset.classes("group");
    expect(groups).toEqual([...groups].sort());
    expect(groups).toContain("smileys-emotion");
    expect(groups.length).toBe(new Set(records.map((r) => r.group)).size);
    expect(dataset.classes("subgroup").length).toBeGreaterThan(100);
    for (const e of dataset.entries) {
      expect(groups[dataset.label(e, "group")]).toBe(e.group);
      expect(dataset.classes("subgroup")[dataset.label(e, "subgroup")]).toBe(e.subgroup);
    }
    // Both splits use the same class list; held-out covers most groups.
    const heldoutGroups = new Set(dataset.split("heldout").map((e) => e.group));
    expect(heldoutGroups.size).toBeGreaterThanOrEqual(groups.length - 3);
    expect(openMojiClassName("group", "food-drink")).toBe("food and drink");
    expect(openMojiClassName("subgroup", "face-smiling")).toBe("face smiling");
  });

  it("renders PNGs that decode to opaque, non-blank images of the asked size", async () => {
    const render = nodeOpenMojiRenderer();
    const pick = [...dataset.split("train").slice(0, 6), ...dataset.split("heldout").slice(0, 6)];
    const skipped = emptySkipCounts();
    let n = 0;
    for await (const s of openMojiSamples(pick, render)) {
      expect(s.key).toBe(pick[n++].key);
      expect(s.imageType).toBe("png");
      const image = await decodeImage(s.image, skipped);
      expect(image && [image.width, image.height]).toEqual([OPENMOJI_SIZE, OPENMOJI_SIZE]);
      const data = image!.data;
      expect(data.filter((_, i) => i % 4 === 3).every((a) => a === 255)).toBe(true);
      const white = data.filter((v, i) => i % 4 !== 3 && v === 255).length;
      expect(white / (OPENMOJI_SIZE * OPENMOJI_SIZE * 3)).toBeLessThan(0.95); // something is drawn
      expect(white / (OPENMOJI_SIZE * OPENMOJI_SIZE * 3)).toBeGreaterThan(0.1); // on a white ground
    }
    expect(n).toBe(pick.length);
    expect(Object.values(skipped).every((c) => c === 0)).toBe(true);
    const small = await decodeImage(await render("1F600", 32), skipped);
    expect([small!.width, small!.height]).toEqual([32, 32]);
    expect(await render("1F600", 72)).toEqual(await render("1F600", 72)); // same bytes every time
  });
});
