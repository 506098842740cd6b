// The two captions of a `scenes` image, as TIPS pairs them: a noisy web alt-text (names one
// object at best, sometimes wrongly, often nothing at all) and a complete synthetic caption
// (every object's size, colour, shape and place, their relations, and the background).
import type { Rng } from "../../tensor/rng";
import type { BackgroundKind } from "./backgrounds";
import { COLOURS, type Layout, type PlacedObject } from "./layout";
import { SHAPES } from "./shapes";

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)];
}

function capitalise(s: string): string {
  return s[0].toUpperCase() + s.slice(1);
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? "an" : "a";
}

/** Words naming each background kind; the first is the plain adjective. */
export const BACKGROUND_WORDS: Record<BackgroundKind, readonly string[]> = {
  stripes: ["striped", "stripy"],
  checker: ["checkered", "checkerboard"],
  dots: ["polka-dot", "dotted"],
  gradient: ["gradient", "smooth gradient"],
  noise: ["cloudy", "mottled"],
  wood: ["wooden", "wood-grain"],
  bricks: ["brick", "brick-wall"],
};

const SIZE_WORDS = {
  small: ["small", "little"],
  medium: ["medium-sized", "mid-sized"],
  large: ["large", "big"],
} as const;

const COUNT_WORDS = ["one", "two", "three", "four"];

/** Where the object's centre lies on a 3 x 3 grid, as a prepositional phrase. */
function position(rng: Rng, o: PlacedObject): string {
  const row = Math.min(2, Math.floor(o.y * 3));
  const col = Math.min(2, Math.floor(o.x * 3));
  const vertical = ["top", "", "bottom"][row];
  const upper = ["upper", "", "lower"][row];
  const horizontal = ["left", "", "right"][col];
  if (row === 1 && col === 1) return pick(rng, ["in the center", "in the middle", "near the center"]);
  if (row === 1)
    return pick(rng, [`on the ${horizontal}`, `on the ${horizontal} side`, `toward the ${horizontal}`]);
  if (col === 1)
    return pick(rng, [`at the ${vertical}`, `near the ${vertical}`, `in the ${vertical} center`]);
  return pick(rng, [
    `in the ${vertical} ${horizontal}`,
    `in the ${upper} ${horizontal} corner`,
    `near the ${vertical} ${horizontal} corner`,
  ]);
}

function phrase(rng: Rng, o: PlacedObject): string {
  const size = pick(rng, SIZE_WORDS[o.size]);
  return `${article(size)} ${size} ${o.colour} ${o.shape}`;
}

function objectSentence(rng: Rng, o: PlacedObject): string {
  const thing = phrase(rng, o);
  const where = position(rng, o);
  return pick(rng, [
    `${capitalise(thing)} is ${where}.`,
    `There is ${thing} ${where}.`,
    `${capitalise(where)} there is ${thing}.`,
    `${capitalise(thing)} sits ${where}.`,
    `${capitalise(where)} is ${thing}.`,
    `You can see ${thing} ${where}.`,
  ]);
}

function name(o: PlacedObject): string {
  return `the ${o.colour} ${o.shape}`;
}

function occlusionSentence(rng: Rng, front: PlacedObject, back: PlacedObject): string {
  return pick(rng, [
    `${capitalise(name(front))} is in front of ${name(back)}.`,
    `${capitalise(name(front))} partly covers ${name(back)}.`,
    `${capitalise(name(back))} is partly hidden behind ${name(front)}.`,
  ]);
}

/** The larger of the horizontal and vertical offsets decides the relation. */
function spatialSentence(rng: Rng, a: PlacedObject, b: PlacedObject): string {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  if (Math.abs(dx) >= Math.abs(dy)) {
    const [left, right] = dx > 0 ? [a, b] : [b, a];
    return pick(rng, [
      `${capitalise(name(left))} is to the left of ${name(right)}.`,
      `${capitalise(name(right))} is to the right of ${name(left)}.`,
      `${capitalise(name(left))} is left of ${name(right)}.`,
    ]);
  }
  const [upper, lower] = dy > 0 ? [a, b] : [b, a];
  return pick(rng, [
    `${capitalise(name(upper))} is above ${name(lower)}.`,
    `${capitalise(name(lower))} is below ${name(upper)}.`,
    `${capitalise(name(lower))} sits beneath ${name(upper)}.`,
  ]);
}

/**
 * Opening (count and background), one sentence per object, then every occlusion and a
 * left/right or above/below relation between objects mentioned one after the other.
 */
export function syntheticCaption(rng: Rng, layout: Layout, background: BackgroundKind): string {
  const objects = layout.objects;
  const n = objects.length;
  const bg = pick(rng, BACKGROUND_WORDS[background]);
  const things =
    n === 1 ? pick(rng, ["a single shape", "one shape", "a lone shape"]) : `${COUNT_WORDS[n - 1]} shapes`;
  const opening = pick(rng, [
    `${capitalise(things)} on ${article(bg)} ${bg} background.`,
    `A picture of ${things} against ${article(bg)} ${bg} background.`,
    `An image showing ${things} on ${article(bg)} ${bg} background.`,
    `${capitalise(article(bg))} ${bg} background with ${things}.`,
  ]);
  // Mention order: largest first, or left to right.
  const mention = [...objects];
  if (rng.uniform() < 0.5) mention.sort((a, b) => b.radius - a.radius);
  else mention.sort((a, b) => a.x - b.x);
  const sentences = [opening, ...mention.map((o) => objectSentence(rng, o))];
  const occluding = new Set<string>();
  for (const [front, back] of layout.occlusions) {
    sentences.push(occlusionSentence(rng, objects[front], objects[back]));
    occluding.add(`${front},${back}`).add(`${back},${front}`);
  }
  for (let i = 1; i < n; i++) {
    const a = mention[i - 1];
    const b = mention[i];
    if (!occluding.has(`${a.order},${b.order}`)) sentences.push(spatialSentence(rng, a, b));
  }
  return sentences.join(" ");
}

const FILLERS = [
  "image",
  "photo",
  "picture",
  "stock picture",
  "untitled",
  "free download",
  "wallpaper hd",
  "abstract background",
  "geometric shapes",
  "clip art",
  "design element",
  "thumbnail",
  "new post",
  "pattern",
  "shapes collection",
  "graphic resources",
];

function number(rng: Rng): string {
  return String(100 + rng.int(9900));
}

function fillerCaption(rng: Rng): string {
  switch (rng.int(4)) {
    case 0:
      return `photo ${number(rng)}`;
    case 1:
      return `IMG_${number(rng)}.jpg`;
    case 2:
      return `untitled-${1 + rng.int(9)}`;
    default:
      return pick(rng, FILLERS);
  }
}

function altText(rng: Rng, colour: string, shape: string): string {
  return pick(rng, [
    `${colour} ${shape}`,
    `${shape} icon`,
    `${colour} ${shape} icon`,
    `${colour} ${shape} clipart`,
    `${shape} clip art free download`,
    `cute ${colour} ${shape} sticker`,
    `${colour} ${shape} png ${number(rng)}`,
    `${shape} shape vector illustration`,
    `photo of ${article(colour)} ${colour} ${shape}`,
    `${shape}`,
    `abstract ${colour} ${shape} wallpaper`,
    `simple ${shape} shape`,
    `${colour} ${shape} - stock image`,
  ]);
}

/**
 * Alt-text: 30% filler only; 50% names one object (the most prominent, i.e. the largest, two
 * times in three); 20% names one object with a colour or shape that is nowhere in the scene.
 */
export function webCaption(rng: Rng, layout: Layout): string {
  const objects = layout.objects;
  const u = rng.uniform();
  if (u < 0.3) return fillerCaption(rng);
  const largest = objects.reduce((a, b) => (b.radius > a.radius ? b : a));
  const o = rng.uniform() < 2 / 3 ? largest : pick(rng, objects);
  if (u < 0.8) return altText(rng, o.colour, o.shape);
  const absentColours = COLOURS.filter((c) => objects.every((p) => p.colour !== c));
  const absentShapes = SHAPES.filter((s) => objects.every((p) => p.shape !== s));
  if (rng.uniform() < 0.5) return altText(rng, pick(rng, absentColours), o.shape);
  return altText(rng, o.colour, pick(rng, absentShapes));
}
