import { mkdirSync, writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { COLOUR_RGB } from "../../../src/data/scenes/layout";
import {
  BACKGROUND_KINDS,
  BACKGROUND_WORDS,
  COLOURS,
  describeScene,
  floorDepth,
  renderScene,
  SCENES_CLASSES,
  type Scene,
  SHAPES,
  scenesSplit,
} from "../../../src/data/scenes/scene";
import { splitWords } from "../../../src/data/text/vocab";

const train = (index: number, size = 64) => renderScene(index, { size, split: "train" });

function words(text: string): Set<string> {
  return new Set(splitWords(text));
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

describe("scenes: determinism and splits", () => {
  it("renders the same bytes for the same (seed, split, index)", () => {
    for (const size of [64, 97]) {
      const a = train(7, size);
      const b = train(7, size);
      expect(sameBytes(a.image, b.image)).toBe(true);
      expect(sameBytes(a.classMap, b.classMap)).toBe(true);
      expect(sameBytes(a.instanceMap, b.instanceMap)).toBe(true);
      expect(sameBytes(a.depthMap, b.depthMap)).toBe(true);
      expect(a.webCaption).toBe(b.webCaption);
      expect(a.syntheticCaption).toBe(b.syntheticCaption);
      expect(a.objects).toEqual(b.objects);
    }
  });

  it("gives different scenes for different indices, splits and seeds", () => {
    const images = new Set<string>();
    for (let i = 0; i < 30; i++) {
      for (const scene of [
        train(i),
        renderScene(i, { size: 64, split: "heldout" }),
        renderScene(i, { size: 64, split: "train", seed: 1 }),
      ]) {
        images.add(Buffer.from(scene.image).toString("base64"));
      }
    }
    expect(images.size).toBe(90);
  });

  it("describes one scene identically at every resolution", () => {
    for (let i = 0; i < 20; i++) {
      const small = train(i, 48);
      const large = train(i, 160);
      const strip = (s: Scene) => s.objects.map(({ visibleFraction, ...o }) => o);
      expect(strip(large)).toEqual(strip(small));
      expect(large.syntheticCaption).toBe(small.syntheticCaption);
      expect(large.webCaption).toBe(small.webCaption);
      expect(large.background).toBe(small.background);
    }
  });

  it("keeps the held-out split apart from train", () => {
    expect(scenesSplit("heldout")).toBe(1000);
    expect(scenesSplit("train")).toBeGreaterThanOrEqual(1_000_000);
    const key = (index: number, split: "train" | "heldout") =>
      describeScene(index, { split })
        .layout.objects.map((o) => `${o.x},${o.y},${o.rotation}`)
        .join(";");
    const trainKeys = new Set<string>();
    for (let i = 0; i < 5000; i++) trainKeys.add(key(i, "train"));
    for (let i = 0; i < scenesSplit("heldout"); i++) expect(trainKeys.has(key(i, "heldout"))).toBe(false);
  });

  it("rejects indices outside the split and bad sizes", () => {
    expect(() => renderScene(1000, { size: 64, split: "heldout" })).toThrow(/outside/);
    expect(() => renderScene(-1, { size: 64, split: "train" })).toThrow(/outside/);
    expect(() => renderScene(1.5, { size: 64, split: "train" })).toThrow(/outside/);
    expect(() => renderScene(0, { size: 0, split: "train" })).toThrow(/size/);
  });
});

describe("scenes: ground truth", () => {
  const scenes = Array.from({ length: 150 }, (_, i) => train(i, 64 + (i % 3) * 16));

  it("lists classes in classMap order", () => {
    expect(SCENES_CLASSES).toEqual(["background", ...SHAPES]);
    expect(SHAPES.length).toBeGreaterThanOrEqual(8);
    expect(COLOURS.length).toBeGreaterThanOrEqual(8);
    expect(BACKGROUND_KINDS.length).toBeGreaterThanOrEqual(5);
  });

  it("uses the whole vocabulary: every shape, colour, size, count and background", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const d = describeScene(i, { split: "train" });
      seen.add(`bg:${d.background.kind}`).add(`n:${d.layout.objects.length}`);
      for (const o of d.layout.objects)
        seen.add(`shape:${o.shape}`).add(`colour:${o.colour}`).add(`size:${o.size}`);
    }
    const expected = [
      ...BACKGROUND_KINDS.map((k) => `bg:${k}`),
      ...SHAPES.map((s) => `shape:${s}`),
      ...COLOURS.map((c) => `colour:${c}`),
      ...["small", "medium", "large"].map((s) => `size:${s}`),
      ...[1, 2, 3, 4].map((n) => `n:${n}`),
    ];
    expect([...seen].sort()).toEqual(expected.sort());
  });

  it("labels every pixel with the object drawn on top there", () => {
    for (const s of scenes) {
      const n = s.size * s.size;
      const visible = new Int32Array(s.objects.length + 1);
      for (let p = 0; p < n; p++) {
        const id = s.instanceMap[p];
        visible[id]++;
        const expectedClass = id === 0 ? 0 : 1 + SHAPES.indexOf(s.objects[id - 1].shape);
        if (s.classMap[p] !== expectedClass)
          throw new Error(`pixel ${p}: class ${s.classMap[p]} != ${expectedClass}`);
      }
      expect(visible[0]).toBeGreaterThan(n / 4);
      s.objects.forEach((o, i) => {
        expect(visible[i + 1]).toBeGreaterThan(0);
        expect(o.visibleFraction).toBeGreaterThan(0.3);
        expect(o.visibleFraction).toBeLessThanOrEqual(1);
      });
    }
  });

  it("orders depth like drawing: later objects are nearer, objects nearer than the floor behind", () => {
    for (const s of scenes) {
      s.objects.forEach((o, i) => {
        expect(o.order).toBe(i);
        if (i > 0) expect(o.depth).toBeLessThan(s.objects[i - 1].depth);
      });
      for (const [front, back] of s.occlusions) expect(front).toBeGreaterThan(back);
      let wrong = 0;
      for (let y = 0; y < s.size; y++) {
        const floor = floorDepth((y + 0.5) / s.size);
        for (let x = 0; x < s.size; x++) {
          const p = y * s.size + x;
          const id = s.instanceMap[p];
          const expected = id === 0 ? Math.fround(floor) : Math.fround(s.objects[id - 1].depth);
          if (s.depthMap[p] !== expected || (id > 0 && s.depthMap[p] >= floor)) wrong++;
        }
      }
      expect(wrong).toBe(0);
    }
  });

  it("shows occlusion where the layout says so", () => {
    let occluded = 0;
    for (const s of scenes) {
      for (const [, back] of s.occlusions) {
        expect(s.objects[back].visibleFraction).toBeLessThan(1);
        occluded++;
      }
    }
    expect(occluded).toBeGreaterThan(10);
  });

  it("paints non-blank images whose objects look like their named colour", () => {
    const palette = COLOURS.map((c) => COLOUR_RGB[c]);
    let objects = 0;
    let matches = 0;
    for (const s of scenes) {
      const n = s.size * s.size;
      let mean = 0;
      let square = 0;
      let opaque = 0;
      for (let p = 0; p < n; p++) {
        if (s.image[4 * p + 3] === 255) opaque++;
        const g = (s.image[4 * p] + s.image[4 * p + 1] + s.image[4 * p + 2]) / 3;
        mean += g / n;
        square += (g * g) / n;
      }
      expect(opaque).toBe(n);
      expect(square - mean * mean).toBeGreaterThan(20);
      // The mean colour of the object's pixels is nearest its named colour (shading, outlines
      // and shadows of nearer objects darken a few small, occluded ones too much).
      s.objects.forEach((o, i) => {
        const sum = [0, 0, 0];
        let count = 0;
        for (let p = 0; p < n; p++) {
          if (s.instanceMap[p] !== i + 1) continue;
          for (let c = 0; c < 3; c++) sum[c] += s.image[4 * p + c];
          count++;
        }
        const distances = palette.map((rgb) => Math.hypot(...rgb.map((v, c) => sum[c] / count - v)));
        objects++;
        if (COLOURS[distances.indexOf(Math.min(...distances))] === o.colour) matches++;
      });
    }
    expect(matches / objects).toBeGreaterThan(0.98);
  });

  it("keeps background colours away from the object colours", () => {
    for (let i = 0; i < 1000; i++) {
      const { layout, background } = describeScene(i, { split: "train" });
      for (const o of layout.objects) {
        const rgb = COLOUR_RGB[o.colour];
        for (const bg of [background.colourA, background.colourB]) {
          expect(Math.hypot(bg[0] - rgb[0], bg[1] - rgb[1], bg[2] - rgb[2])).toBeGreaterThanOrEqual(100);
        }
      }
    }
  });
});

describe("scenes: captions", () => {
  const descriptions = Array.from({ length: 1000 }, (_, i) => describeScene(i, { split: "train" }));

  it("synthetic captions name every object's size, colour and shape, the background and relations", () => {
    const sizeWords = {
      small: ["small", "little"],
      medium: ["medium-sized", "mid-sized"],
      large: ["large", "big"],
    };
    for (const d of descriptions) {
      const text = d.syntheticCaption.toLowerCase();
      for (const o of d.layout.objects) {
        expect(text).toContain(`${o.colour} ${o.shape}`);
        expect(sizeWords[o.size].some((w) => text.includes(`${w} ${o.colour} ${o.shape}`))).toBe(true);
      }
      expect(BACKGROUND_WORDS[d.background.kind].some((w) => text.includes(`${w} background`))).toBe(true);
      const n = d.layout.objects.length;
      const relations =
        text.match(/left of|right of|above|below|beneath|in front of|partly covers|hidden behind/g) ?? [];
      expect(relations.length).toBeGreaterThanOrEqual(n - 1);
      for (const [front, back] of d.layout.occlusions) {
        const f = d.layout.objects[front];
        const b = d.layout.objects[back];
        const says = [
          `the ${f.colour} ${f.shape} is in front of the ${b.colour} ${b.shape}`,
          `the ${f.colour} ${f.shape} partly covers the ${b.colour} ${b.shape}`,
          `the ${b.colour} ${b.shape} is partly hidden behind the ${f.colour} ${f.shape}`,
        ];
        expect(says.some((s) => text.includes(s))).toBe(true);
      }
    }
  });

  it("synthetic captions state left/right and above/below correctly", () => {
    let checked = 0;
    for (const d of descriptions) {
      const byName = new Map(d.layout.objects.map((o) => [`${o.colour} ${o.shape}`, o]));
      const pattern = /the (\w+ \w+) is (to the left of|left of|to the right of|above|below) the (\w+ \w+)/g;
      for (const m of d.syntheticCaption.toLowerCase().matchAll(pattern)) {
        const a = byName.get(m[1])!;
        const b = byName.get(m[3])!;
        if (m[2].includes("left")) expect(a.x).toBeLessThan(b.x);
        if (m[2].includes("right")) expect(a.x).toBeGreaterThan(b.x);
        if (m[2] === "above") expect(a.y).toBeLessThan(b.y);
        if (m[2] === "below") expect(a.y).toBeGreaterThan(b.y);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it("web captions name at most one object, sometimes wrongly, often nothing", () => {
    let filler = 0;
    let right = 0;
    let wrong = 0;
    for (const d of descriptions) {
      const w = words(d.webCaption);
      const objects = d.layout.objects;
      const named = objects.filter((o) => w.has(o.colour) && w.has(o.shape));
      expect(named.length).toBeLessThanOrEqual(1);
      const shapesNamed = SHAPES.filter((s) => w.has(s));
      const coloursNamed = COLOURS.filter((c) => w.has(c));
      expect(shapesNamed.length).toBeLessThanOrEqual(1);
      expect(coloursNamed.length).toBeLessThanOrEqual(1);
      if (shapesNamed.length === 0 && coloursNamed.length === 0) filler++;
      else if (
        shapesNamed.every((s) =>
          objects.some((o) => o.shape === s && coloursNamed.every((c) => o.colour === c)),
        )
      ) {
        right++;
      } else wrong++;
    }
    const total = descriptions.length;
    expect(filler / total).toBeGreaterThan(0.2);
    expect(filler / total).toBeLessThan(0.4);
    expect(right / total).toBeGreaterThan(0.4);
    expect(wrong / total).toBeGreaterThan(0.1);
    // Web captions are short and varied.
    expect(new Set(descriptions.map((d) => d.webCaption)).size).toBeGreaterThan(total / 2);
    expect(Math.max(...descriptions.map((d) => splitWords(d.webCaption).length))).toBeLessThanOrEqual(8);
  });

  it("varies the synthetic templates", () => {
    const openings = new Set(descriptions.map((d) => d.syntheticCaption.split(" ").slice(0, 3).join(" ")));
    expect(openings.size).toBeGreaterThan(10);
    expect(new Set(descriptions.map((d) => d.syntheticCaption)).size).toBe(descriptions.length);
  });
});

// A minimal PNG encoder (RGBA, 8 bits, no filter), enough to look at the renders.
const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

function crc32(bytes: Uint8Array): number {
  let c = -1;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function encodePng(rgba: Uint8Array, width: number, height: number): Buffer {
  const rows = Buffer.alloc(height * (1 + 4 * width));
  for (let y = 0; y < height; y++)
    rows.set(rgba.subarray(y * 4 * width, (y + 1) * 4 * width), y * (1 + 4 * width) + 1);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 6;
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    pngChunk("IHDR", header),
    pngChunk("IDAT", deflateSync(rows)),
    pngChunk("IEND", new Uint8Array(0)),
  ]);
}

describe("scenes: pictures", () => {
  it("writes test-results/scenes-224.png: images, class maps, depth maps", () => {
    const size = 224;
    const count = 6;
    const width = count * size;
    const sheet = new Uint8Array(width * 3 * size * 4);
    const captions: string[] = [];
    for (let k = 0; k < count; k++) {
      const s = train(k, size);
      captions.push(`${k} [${s.background}]\n  web: ${s.webCaption}\n  syn: ${s.syntheticCaption}`);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const p = y * size + x;
          const cls = s.classMap[p];
          // Far (1) black to near (0.5) white.
          const depth = Math.round(510 * (1 - s.depthMap[p]));
          const rows: [number, number, number][] = [
            [s.image[4 * p], s.image[4 * p + 1], s.image[4 * p + 2]],
            cls === 0 ? [0, 0, 0] : [(cls * 97) % 256, (cls * 53 + 80) % 256, (cls * 151 + 40) % 256],
            [depth, depth, depth],
          ];
          rows.forEach((rgb, r) => {
            const o = ((r * size + y) * width + k * size + x) * 4;
            sheet.set([...rgb, 255], o);
          });
        }
      }
    }
    mkdirSync("test-results", { recursive: true });
    const png = encodePng(sheet, width, 3 * size);
    writeFileSync("test-results/scenes-224.png", png);
    writeFileSync("test-results/scenes-224.txt", `${captions.join("\n")}\n`);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.length).toBeGreaterThan(10_000);
  });
});
