// Where the objects of a `scenes` image go, decided in image units ([0, 1], x right, y down)
// independently of the resolution it is rendered at.
//
// Depth model: the background is a floor receding upwards, its distance to the camera falling
// linearly from 1 at the top edge to 0.5 at the bottom edge (floorDepth). Every object is a flat
// card facing the camera, standing on the floor just below its bounding circle (at y + radius),
// so it is nearer than all the floor behind it; objects are drawn far to near.
import type { Rng } from "../../tensor/rng";
import type { Rgb } from "./backgrounds";
import { SHAPES, type ShapeName, shapeDistance } from "./shapes";

export const COLOURS = [
  "red",
  "green",
  "blue",
  "yellow",
  "purple",
  "orange",
  "cyan",
  "pink",
  "white",
  "black",
] as const;
export type ColourName = (typeof COLOURS)[number];

export const COLOUR_RGB: Record<ColourName, Rgb> = {
  red: [222, 36, 40],
  green: [42, 168, 64],
  blue: [38, 84, 222],
  yellow: [250, 214, 36],
  purple: [134, 56, 186],
  orange: [250, 132, 24],
  cyan: [32, 204, 222],
  pink: [250, 124, 192],
  white: [246, 246, 246],
  black: [26, 26, 28],
};

export const SIZES = ["small", "medium", "large"] as const;
export type SizeName = (typeof SIZES)[number];

/** Bounding-circle radius range per size, in image units. */
const RADIUS: Record<SizeName, readonly [number, number]> = {
  small: [0.08, 0.11],
  medium: [0.13, 0.17],
  large: [0.2, 0.25],
};

export interface PlacedObject {
  shape: ShapeName;
  colour: ColourName;
  size: SizeName;
  /** Centre in image units. */
  x: number;
  y: number;
  /** Radius of the bounding circle in image units. */
  radius: number;
  /** Counter-clockwise rotation in radians. */
  rotation: number;
  /** Drawing order: 0 is the farthest, drawn first. Objects are listed in this order. */
  order: number;
  /** Distance to the camera on the floorDepth scale (smaller is nearer). */
  depth: number;
}

export interface Layout {
  objects: PlacedObject[];
  /** [front, back] object indices where the front object hides a visible part of the back one. */
  occlusions: [number, number][];
}

export const MAX_OBJECTS = 4;
/** Resolution of the grid on which occlusion is judged (resolution-independent captions). */
const GRID = 48;
/** Every object keeps at least this fraction of its area visible. */
const MIN_VISIBLE = 0.45;
/** An overlap counts as occlusion from this fraction of the back object's area. */
const MIN_OCCLUDED = 0.03;

export function floorDepth(v: number): number {
  return 1 - 0.5 * v;
}

/** An object's placement in the form the per-pixel loops use. */
export interface Pose {
  x: number;
  y: number;
  radius: number;
  cos: number;
  sin: number;
  shape: number;
}

export function poseOf(o: PlacedObject): Pose {
  const shape = SHAPES.indexOf(o.shape);
  return { x: o.x, y: o.y, radius: o.radius, cos: Math.cos(o.rotation), sin: Math.sin(o.rotation), shape };
}

/** Signed distance, in image units, from image point (u, v) to the object's outline. */
export function poseDistance(p: Pose, u: number, v: number): number {
  const dx = (u - p.x) / p.radius;
  const dy = (p.y - v) / p.radius;
  return p.radius * shapeDistance(p.shape, dx * p.cos + dy * p.sin, dy * p.cos - dx * p.sin);
}

function sampleObjects(rng: Rng, count: number): PlacedObject[] {
  const objects: PlacedObject[] = [];
  while (objects.length < count) {
    const shape = SHAPES[rng.int(SHAPES.length)];
    const colour = COLOURS[rng.int(COLOURS.length)];
    const size = SIZES[rng.int(SIZES.length)];
    const [lo, hi] = RADIUS[size];
    const radius = lo + (hi - lo) * rng.uniform();
    const margin = 0.02 + 0.9 * radius;
    const x = margin + (1 - 2 * margin) * rng.uniform();
    const y = margin + (1 - 2 * margin) * rng.uniform();
    const rotation = 2 * Math.PI * rng.uniform();
    // Names must single out an object in a caption: no two alike.
    if (objects.some((o) => o.shape === shape && o.colour === colour)) continue;
    objects.push({ shape, colour, size, x, y, radius, rotation, order: 0, depth: 0 });
  }
  objects.sort((a, b) => a.y + a.radius - (b.y + b.radius));
  objects.forEach((o, i) => {
    o.order = i;
    o.depth = floorDepth(o.y + o.radius);
  });
  return objects;
}

/** Rasterises the objects on the coarse grid; null when one of them is hidden too much. */
function findOcclusions(objects: PlacedObject[]): [number, number][] | null {
  const n = objects.length;
  const top = new Int8Array(GRID * GRID).fill(-1);
  const inside = new Uint8Array(GRID * GRID);
  const area = new Int32Array(n);
  const overlap = new Int32Array(n * n);
  objects.forEach((o, i) => {
    const pose = poseOf(o);
    const x0 = Math.max(0, Math.floor((o.x - o.radius) * GRID));
    const x1 = Math.min(GRID - 1, Math.ceil((o.x + o.radius) * GRID));
    const y0 = Math.max(0, Math.floor((o.y - o.radius) * GRID));
    const y1 = Math.min(GRID - 1, Math.ceil((o.y + o.radius) * GRID));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        if (poseDistance(pose, (x + 0.5) / GRID, (y + 0.5) / GRID) >= 0) continue;
        const cell = y * GRID + x;
        area[i]++;
        for (let j = 0; j < i; j++) if (inside[cell] & (1 << j)) overlap[j * n + i]++;
        inside[cell] |= 1 << i;
        top[cell] = i;
      }
    }
  });
  const visible = new Int32Array(n);
  for (const t of top) if (t >= 0) visible[t]++;
  for (let i = 0; i < n; i++) if (visible[i] < MIN_VISIBLE * area[i] || area[i] === 0) return null;
  const occlusions: [number, number][] = [];
  for (let back = 0; back < n; back++) {
    for (let front = back + 1; front < n; front++) {
      if (overlap[back * n + front] >= MIN_OCCLUDED * area[back]) occlusions.push([front, back]);
    }
  }
  return occlusions;
}

/** 1 to MAX_OBJECTS objects, each at least MIN_VISIBLE visible; drawn far to near. */
export function sampleLayout(rng: Rng): Layout {
  const count = 1 + rng.int(MAX_OBJECTS);
  for (let attempt = 0; ; attempt++) {
    // After many failures (crowded large objects), drop an object and keep trying.
    const objects = sampleObjects(rng, Math.max(1, count - Math.floor(attempt / 20)));
    const occlusions = findOcclusions(objects);
    if (occlusions) return { objects, occlusions };
  }
}
