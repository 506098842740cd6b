// `openmoji`: a built-in dataset of real, hand-drawn images with human-written names and tags: the
// 4495 emoji of OpenMoji 17 (npm package `openmoji`), each an SVG drawn by a designer and named
// by Unicode's CLDR annotation ("grinning face"), with CLDR and OpenMoji keyword tags and a
// group and subgroup ("smileys-emotion" / "face-smiling"). Licence: CC BY-SA 4.0, not the
// project's: shards made from it carry the same licence, and wherever its images are shown or
// shared, OpenMoji is credited as OPENMOJI_ATTRIBUTION says.
//
// Each emoji becomes a sample {key (its hexcode), PNG image, noisy web caption, synthetic caption}
// with class labels (group or subgroup) for zero-shot and kNN evaluation. The held-out split is
// fixed: about 10% of the emoji, chosen by a hash of the base emoji's hexcode, so an emoji and
// its skin-tone variants always fall in the same split. Web captions draw their noise from a seed.
//
// This module is platform-free: it takes the package's openmoji.json records and a renderer from
// load-node.ts (files and sharp) or load-browser.ts (Vite asset URLs and a canvas).
import { Rng } from "../../tensor/rng";

/** The licence of every OpenMoji image, and so of every shard written from it. */
export const OPENMOJI_LICENSE = "CC BY-SA 4.0";

/** The credit OpenMoji asks for, to be shown wherever its images are used. */
export const OPENMOJI_ATTRIBUTION =
  "All emojis designed by OpenMoji (https://openmoji.org/) – the open-source emoji and icon project. " +
  "License: CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)";

/** The size of OpenMoji's own PNG export (the package ships SVGs, drawn on a 72 x 72 grid). */
export const OPENMOJI_SIZE = 72;

/** One entry of openmoji/data/openmoji.json, as the package ships it (fields we use). */
export interface OpenMojiRecord {
  emoji: string;
  hexcode: string;
  group: string;
  subgroups: string;
  annotation: string;
  /** CLDR keywords, comma-separated (often empty). */
  tags: string;
  /** OpenMoji's own keywords, comma-separated (often empty). */
  openmoji_tags: string;
  /** The emoji this one is a skin-tone variant of ("" if none; a base emoji names itself). */
  skintone_base_hexcode: string;
  /** 1-5 (or "1,2" for several people) for a skin-tone variant, "" otherwise. */
  skintone: string | number;
}

export type OpenMojiSplit = "train" | "heldout";
export type OpenMojiLabelKind = "group" | "subgroup";

export interface OpenMojiEntry {
  /** The emoji's hexcode, e.g. "1F600" or "1F468-1F3FF-200D-1F4BC"; names its SVG. */
  key: string;
  /** The emoji itself ("" for OpenMoji's own extras, which have no code point). */
  emoji: string;
  annotation: string;
  /** CLDR and OpenMoji tags, lower-cased, without repeats. */
  tags: string[];
  group: string;
  subgroup: string;
  /** Hexcode of the base emoji (itself unless it is a skin-tone variant). */
  base: string;
  split: OpenMojiSplit;
  webCaption: string;
  syntheticCaption: string;
}

export interface OpenMojiSample extends OpenMojiEntry {
  /** PNG bytes, size x size, flattened onto white. */
  image: Uint8Array;
  imageType: "png";
}

/** Draws an emoji: its hexcode and the image side in pixels to PNG bytes (white background). */
export type OpenMojiRenderer = (hexcode: string, size: number) => Promise<Uint8Array>;

export interface OpenMojiOptions {
  /** Seed of the web captions' noise (default 0); the split does not depend on it. */
  seed?: number;
  /** Keep the skin-tone variants (2030 of 4495 in OpenMoji 17). Default true. */
  skinTones?: boolean;
}

/** Readable names of OpenMoji's groups, for prompts and synthetic captions. */
export const OPENMOJI_GROUP_NAMES: Readonly<Record<string, string>> = {
  "smileys-emotion": "smileys and emotion",
  "people-body": "people and body",
  component: "emoji components",
  "animals-nature": "animals and nature",
  "food-drink": "food and drink",
  "travel-places": "travel and places",
  activities: "activities",
  objects: "objects",
  symbols: "symbols",
  flags: "flags",
  "extras-openmoji": "OpenMoji extras",
  "extras-unicode": "extra Unicode symbols",
};

/** The readable name of a group or subgroup ("food-drink" -> "food and drink", "face-smiling" -> "face smiling"). */
export function openMojiClassName(kind: OpenMojiLabelKind, value: string): string {
  if (kind === "group" && OPENMOJI_GROUP_NAMES[value]) return OPENMOJI_GROUP_NAMES[value];
  return value.replace(/-/g, " ");
}

/** FNV-1a of a string's code points. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (const c of text) h = Math.imul(h ^ c.codePointAt(0)!, 0x01000193) >>> 0;
  return h;
}

/** The split of an emoji, from its base emoji's hexcode: fixed, whatever the seed or package order. */
export function openMojiSplitOf(baseHexcode: string): OpenMojiSplit {
  return hash(`openmoji:${baseHexcode}`) % 10 === 0 ? "heldout" : "train";
}

/** A skin-tone variant of another emoji (base emoji name themselves as their base). */
export function isSkinToneVariant(r: OpenMojiRecord): boolean {
  return r.skintone !== "" && r.skintone_base_hexcode !== "" && r.skintone_base_hexcode !== r.hexcode;
}

/** The OpenMoji dataset over the package's records (in package order), split and captioned. */
export class OpenMoji {
  readonly entries: readonly OpenMojiEntry[];
  private readonly classLists: Record<OpenMojiLabelKind, string[]>;

  constructor(records: readonly OpenMojiRecord[], options: OpenMojiOptions = {}) {
    const seed = options.seed ?? 0;
    const kept = options.skinTones === false ? records.filter((r) => !isSkinToneVariant(r)) : records;
    this.entries = kept.map((r) => toEntry(r, seed));
    // Class lists from every record, so that labels are the same for both splits and all options.
    const sorted = (values: string[]) => [...new Set(values)].sort();
    this.classLists = {
      group: sorted(records.map((r) => r.group)),
      subgroup: sorted(records.map((r) => r.subgroups)),
    };
  }

  /** The entries of a split, in package order. */
  split(split: OpenMojiSplit): OpenMojiEntry[] {
    return this.entries.filter((e) => e.split === split);
  }

  /** Class values (sorted) of a label kind; a label is an index into this list. */
  classes(kind: OpenMojiLabelKind): readonly string[] {
    return this.classLists[kind];
  }

  /** The class index of an entry. */
  label(entry: OpenMojiEntry, kind: OpenMojiLabelKind): number {
    return this.classLists[kind].indexOf(kind === "group" ? entry.group : entry.subgroup);
  }
}

/** The entries' samples, rendered `concurrency` at a time, in order. */
export async function* openMojiSamples(
  entries: Iterable<OpenMojiEntry>,
  render: OpenMojiRenderer,
  size = OPENMOJI_SIZE,
  concurrency = 4,
): AsyncGenerator<OpenMojiSample> {
  const pending: { entry: OpenMojiEntry; image: Promise<Uint8Array> }[] = [];
  const iterator = entries[Symbol.iterator]();
  const fill = () => {
    while (pending.length < concurrency) {
      const r = iterator.next();
      if (r.done) return;
      const image = render(r.value.key, size);
      image.catch(() => {}); // awaited below, in order
      pending.push({ entry: r.value, image });
    }
  };
  fill();
  while (pending.length > 0) {
    const { entry, image } = pending.shift()!;
    const bytes = await image;
    fill();
    yield { ...entry, image: bytes, imageType: "png" };
  }
}

function splitTags(text: string): string[] {
  return text
    .split(",")
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.length > 0);
}

function toEntry(r: OpenMojiRecord, seed: number): OpenMojiEntry {
  const base = r.skintone_base_hexcode || r.hexcode;
  const tags = [...new Set([...splitTags(r.tags), ...splitTags(r.openmoji_tags)])];
  const entry: OpenMojiEntry = {
    key: r.hexcode,
    emoji: r.emoji,
    annotation: r.annotation.trim(),
    tags,
    group: r.group,
    subgroup: r.subgroups,
    base,
    split: openMojiSplitOf(base),
    webCaption: "",
    syntheticCaption: "",
  };
  const rng = new Rng((hash(`caption:${r.hexcode}`) ^ Math.imul(seed, 0x9e3779b1)) >>> 0);
  entry.webCaption = webCaption(rng, entry);
  entry.syntheticCaption = syntheticCaption(entry);
  return entry;
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)];
}

function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Alt-text as the web has it: usually the name or a tag, sometimes decorated ("... emoji",
 * "....png"), sometimes only the emoji character, a file name or a word that says nothing.
 */
function webCaption(rng: Rng, e: OpenMojiEntry): string {
  const a = e.annotation;
  const u = rng.uniform();
  if (u < 0.3) return a;
  if (u < 0.45) {
    const forms = ["{} emoji", "{} icon", "emoji: {}", "{}.png", "{} clipart", "openmoji {}", "{} sticker"];
    return pick(rng, forms).replace("{}", a);
  }
  if (u < 0.65) return e.tags.length > 0 ? pick(rng, e.tags) : a;
  if (u < 0.75) {
    if (e.tags.length < 2) return a;
    return shuffled(rng, e.tags)
      .slice(0, 2 + rng.int(2))
      .join(pick(rng, [", ", " ", " | "]));
  }
  if (u < 0.85) return e.emoji ? pick(rng, [e.emoji, `${e.emoji} ${a}`]) : a;
  if (u < 0.95) return pick(rng, ["emoji", "icon", "image", "sticker", "untitled", "symbol", "clip art"]);
  return pick(rng, [`${e.key}.svg`, `emoji_u${e.key.toLowerCase().replace(/-/g, "_")}.png`]);
}

/** Everything that is known, in one sentence or two: name, category, and keywords. */
function syntheticCaption(e: OpenMojiEntry): string {
  // "waving hand: light skin tone" -> "waving hand (light skin tone)"
  const name = e.annotation.replace(/^([^:]+):\s*(.+)$/, "$1 ($2)");
  const group = openMojiClassName("group", e.group);
  const subgroup = openMojiClassName("subgroup", e.subgroup);
  let text = `A flat, colorful emoji icon of ${name} with black outlines on a white background, from the ${group} category (${subgroup}).`;
  const tags = e.tags.filter((t) => t !== e.annotation.toLowerCase()).slice(0, 8);
  if (tags.length > 0) text += ` Keywords: ${tags.join(", ")}.`;
  return text;
}
