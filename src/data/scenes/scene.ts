// `scenes`: a built-in procedural dataset with per-pixel ground truth, for training TIPS-style
// models and measuring their dense features without downloads. Each sample is 1-4 shapes (10
// kinds, 10 colours, 3 sizes, any position and rotation, partly occluding each other) on one
// of 7 textured backgrounds, with a noisy web caption and a complete synthetic caption.
// Pure TypeScript: the same bytes in a browser worker and in Node, for a given (seed, split, index).
import { Rng } from "../../tensor/rng";
import { type Background, type BackgroundKind, paintBackground, sampleBackground } from "./backgrounds";
import { syntheticCaption, webCaption } from "./captions";
import {
  COLOUR_RGB,
  floorDepth,
  type Layout,
  type PlacedObject,
  type Pose,
  poseDistance,
  poseOf,
  sampleLayout,
} from "./layout";
import { SHAPES } from "./shapes";

export { BACKGROUND_KINDS, type BackgroundKind } from "./backgrounds";
export { BACKGROUND_WORDS } from "./captions";
export { COLOURS, type ColourName, floorDepth, MAX_OBJECTS, SIZES, type SizeName } from "./layout";
export { SHAPES, type ShapeName } from "./shapes";

/** Class names in classMap order: 0 is the background, 1 + i is SHAPES[i]. */
export const SCENES_CLASSES: readonly string[] = ["background", ...SHAPES];

export type SceneSplit = "train" | "heldout";

const SPLIT_SIZE: Record<SceneSplit, number> = { train: 1_000_000, heldout: 1000 };
const SPLIT_TAG: Record<SceneSplit, number> = { train: 0x7a41, heldout: 0x4e1d };

/** Number of samples in a split. Train and held-out draw from disjoint generator states. */
export function scenesSplit(split: SceneSplit): number {
  return SPLIT_SIZE[split];
}

export interface SceneOptions {
  /** Image width and height in pixels. */
  size: number;
  split: SceneSplit;
  /** Dataset seed (default 0); the held-out split is fixed for a given seed. */
  seed?: number;
}

export interface SceneObject extends PlacedObject {
  /** Fraction of the object's in-image pixels that it shows in classMap (the rest is hidden). */
  visibleFraction: number;
}

export interface SceneDescription {
  layout: Layout;
  background: Background;
  webCaption: string;
  syntheticCaption: string;
}

export interface Scene {
  size: number;
  /** RGBA, size * size * 4, row-major, alpha 255. */
  image: Uint8Array;
  /** Per pixel: 0 for background, 1 + SHAPES index of the object seen there. */
  classMap: Uint8Array;
  /** Per pixel: 0 for background, 1 + drawing order of the object seen there (larger = nearer). */
  instanceMap: Uint8Array;
  /** Per pixel distance to the camera, floorDepth scale: floor 1 (top) to 0.5 (bottom), objects nearer. */
  depthMap: Float32Array;
  /** Far to near, the drawing order. */
  objects: SceneObject[];
  /** [front, back] indices into objects where the front one hides part of the back one. */
  occlusions: [number, number][];
  background: BackgroundKind;
  webCaption: string;
  syntheticCaption: string;
}

/** Bijective 32-bit mixer (murmur3 finaliser). */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// The parts of a sample: each draws from its own generator, so that changing how captions are
// written never changes the images.
const PART_TAG = { layout: 1, background: 2, captions: 3 } as const;

// Distinct (seed, split, index, part) give distinct 128-bit states: no two samples share a stream.
function sceneRng(seed: number, split: SceneSplit, index: number, part: keyof typeof PART_TAG): Rng {
  const state = new Uint32Array([
    mix32(index + 0x3c6ef372),
    mix32(seed + 0x9e3779b9),
    mix32(SPLIT_TAG[split]),
    mix32(PART_TAG[part] + 0x5be0cd19),
  ]);
  const rng = new Rng(state);
  for (let i = 0; i < 8; i++) rng.nextU32();
  return rng;
}

/** Everything about a sample except its pixels: cheap, for vocabularies and caption statistics. */
export function describeScene(index: number, opts: { split: SceneSplit; seed?: number }): SceneDescription {
  const count = SPLIT_SIZE[opts.split];
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new Error(`scenes: index ${index} outside the ${opts.split} split [0, ${count})`);
  }
  const seed = opts.seed ?? 0;
  const layout = sampleLayout(sceneRng(seed, opts.split, index, "layout"));
  const objectColours = layout.objects.map((o) => COLOUR_RGB[o.colour]);
  const background = sampleBackground(sceneRng(seed, opts.split, index, "background"), objectColours);
  const captionRng = sceneRng(seed, opts.split, index, "captions");
  return {
    layout,
    background,
    webCaption: webCaption(captionRng, layout),
    syntheticCaption: syntheticCaption(captionRng, layout, background.kind),
  };
}

const SHADOW_ALPHA = 0.25;
const OUTLINE_DARKEN = 0.25;

/** Pixel range [lo, hi] covering image coordinates [centre - half, centre + half]. */
function span(centre: number, half: number, size: number): [number, number] {
  return [
    Math.max(0, Math.floor((centre - half) * size)),
    Math.min(size - 1, Math.ceil((centre + half) * size)),
  ];
}

/** A soft drop shadow down and to the right, darkening whatever is already drawn. */
function drawShadow(pose: Pose, size: number, rgba: Uint8ClampedArray): void {
  const r = pose.radius;
  const offsetX = 0.12 * r;
  const offsetY = 0.18 * r;
  const blur = Math.max(0.1 * r, 1 / size);
  const [x0, x1] = span(pose.x + offsetX, r + blur, size);
  const [y0, y1] = span(pose.y + offsetY, r + blur, size);
  for (let y = y0; y <= y1; y++) {
    const v = (y + 0.5) / size - offsetY;
    for (let x = x0; x <= x1; x++) {
      const d = poseDistance(pose, (x + 0.5) / size - offsetX, v);
      const keep = 1 - SHADOW_ALPHA * Math.min(Math.max(0.5 - d / (2 * blur), 0), 1);
      const p = 4 * (y * size + x);
      rgba[p] *= keep;
      rgba[p + 1] *= keep;
      rgba[p + 2] *= keep;
    }
  }
}

/**
 * Flat colour lit from the top left, with a darker outline; coverage antialiases the edge.
 * Pixels whose centre is inside get the object's ids; returns how many there are.
 */
function drawObject(
  o: PlacedObject,
  id: number,
  size: number,
  scene: Scene,
  rgba: Uint8ClampedArray,
): number {
  const pose = poseOf(o);
  const px = 1 / size;
  const r = pose.radius;
  const [cr, cg, cb] = COLOUR_RGB[o.colour];
  const outline = Math.max(0.06 * r, 0.8 * px);
  const [x0, x1] = span(pose.x, r + px, size);
  const [y0, y1] = span(pose.y, r + px, size);
  let pixels = 0;
  for (let y = y0; y <= y1; y++) {
    const v = (y + 0.5) * px;
    for (let x = x0; x <= x1; x++) {
      const u = (x + 0.5) * px;
      const d = poseDistance(pose, u, v);
      const coverage = Math.min(Math.max(0.5 - d / px, 0), 1);
      if (coverage === 0) continue;
      const light = 1.08 - 0.12 * ((u - pose.x + v - pose.y) / r);
      const edge = Math.min(Math.max(0.5 + (d + outline) / px, 0), 1);
      const shade = light * (1 - OUTLINE_DARKEN * edge);
      const p = y * size + x;
      rgba[4 * p] += (Math.min(cr * shade, 255) - rgba[4 * p]) * coverage;
      rgba[4 * p + 1] += (Math.min(cg * shade, 255) - rgba[4 * p + 1]) * coverage;
      rgba[4 * p + 2] += (Math.min(cb * shade, 255) - rgba[4 * p + 2]) * coverage;
      if (d < 0) {
        scene.classMap[p] = 1 + pose.shape;
        scene.instanceMap[p] = id;
        scene.depthMap[p] = o.depth;
        pixels++;
      }
    }
  }
  return pixels;
}

export function renderScene(index: number, opts: SceneOptions): Scene {
  const size = opts.size;
  if (!Number.isInteger(size) || size < 8 || size > 4096) throw new Error(`scenes: bad image size ${size}`);
  const { layout, background, webCaption, syntheticCaption } = describeScene(index, opts);
  const n = size * size;
  const rgba = new Uint8ClampedArray(n * 4);
  const scene: Scene = {
    size,
    image: new Uint8Array(rgba.buffer),
    classMap: new Uint8Array(n),
    instanceMap: new Uint8Array(n),
    depthMap: new Float32Array(n),
    objects: [],
    occlusions: layout.occlusions,
    background: background.kind,
    webCaption,
    syntheticCaption,
  };
  paintBackground(background, size, rgba);
  for (let y = 0; y < size; y++) scene.depthMap.fill(floorDepth((y + 0.5) / size), y * size, (y + 1) * size);
  const area = layout.objects.map((o, i) => {
    drawShadow(poseOf(o), size, rgba);
    return drawObject(o, i + 1, size, scene, rgba);
  });
  const visible = new Int32Array(layout.objects.length + 1);
  for (let p = 0; p < n; p++) visible[scene.instanceMap[p]]++;
  scene.objects = layout.objects.map((o, i) => ({
    ...o,
    visibleFraction: area[i] > 0 ? visible[i + 1] / area[i] : 0,
  }));
  return scene;
}
