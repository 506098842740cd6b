// Textured backgrounds of the `scenes` dataset. Parameters are drawn once per scene in image
// units ([0, 1] across the image), so one scene looks the same at every resolution; patterns
// with hard edges are box-filtered over one pixel. Colours are muted (low saturation, middle
// value) and kept away from the scene's object colours, so that objects always stand out.
import type { Rng } from "../../tensor/rng";

export const BACKGROUND_KINDS = [
  "stripes",
  "checker",
  "dots",
  "gradient",
  "noise",
  "wood",
  "bricks",
] as const;
export type BackgroundKind = (typeof BACKGROUND_KINDS)[number];

export type Rgb = readonly [number, number, number];

export interface Background {
  kind: BackgroundKind;
  /** The two colours the pattern alternates between, 0-255. */
  colourA: Rgb;
  colourB: Rgb;
  /** Pattern period in image units (stripes, checker, dots, bricks, wood rings). */
  period: number;
  angle: number;
  phase: number;
  /** 16 x 16 periodic value-noise lattice (noise, wood). */
  lattice: Float32Array;
}

const LATTICE = 16;
/** Smallest RGB distance between a background colour and any object colour in the scene. */
const MIN_COLOUR_DISTANCE = 100;

function hsv(h: number, s: number, v: number): Rgb {
  const f = (n: number) => {
    const k = (n + h * 6) % 6;
    return Math.round(255 * (v - v * s * Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return [f(5), f(3), f(1)];
}

function distance(a: Rgb, b: Rgb): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

function farFrom(c: Rgb, avoid: readonly Rgb[]): boolean {
  return avoid.every((o) => distance(c, o) >= MIN_COLOUR_DISTANCE);
}

/** A background whose colours keep MIN_COLOUR_DISTANCE from every colour in `avoid`. */
export function sampleBackground(rng: Rng, avoid: readonly Rgb[]): Background {
  const kind = BACKGROUND_KINDS[rng.int(BACKGROUND_KINDS.length)];
  let colourA: Rgb = [128, 128, 128];
  let colourB: Rgb = [100, 100, 100];
  for (let attempt = 0; attempt < 100; attempt++) {
    // Wood is brown; the others take any hue.
    const hue = kind === "wood" ? 0.05 + 0.06 * rng.uniform() : rng.uniform();
    const sat = kind === "wood" ? 0.3 + 0.15 * rng.uniform() : 0.05 + 0.25 * rng.uniform();
    const value = 0.4 + 0.3 * rng.uniform();
    const contrast = (0.12 + 0.14 * rng.uniform()) * (rng.uniform() < 0.5 ? -1 : 1);
    colourA = hsv(hue, sat, value);
    const hueB = (hue + 0.06 * (rng.uniform() - 0.5) + 1) % 1;
    colourB = hsv(hueB, sat * (0.6 + 0.6 * rng.uniform()), Math.min(Math.max(value + contrast, 0.2), 0.9));
    if (farFrom(colourA, avoid) && farFrom(colourB, avoid)) break;
  }
  const lattice = new Float32Array(LATTICE * LATTICE);
  for (let i = 0; i < lattice.length; i++) lattice[i] = rng.uniform();
  return {
    kind,
    colourA,
    colourB,
    period: 0.06 + 0.1 * rng.uniform(),
    angle: Math.PI * rng.uniform(),
    phase: rng.uniform(),
    lattice,
  };
}

/** Box-filtered square wave: 1 on [0.25, 0.75) of each period, `w` = filter width in periods. */
function squareWave(t: number, w: number): number {
  const tri = 1 - 4 * Math.abs(t - Math.floor(t) - 0.5);
  return Math.min(Math.max(0.5 + tri / (4 * w), 0), 1);
}

function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}

/** Periodic value noise at lattice coordinates (x, y). */
function valueNoise(lattice: Float32Array, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = smooth(x - x0);
  const fy = smooth(y - y0);
  const i0 = x0 & (LATTICE - 1);
  const i1 = (x0 + 1) & (LATTICE - 1);
  const j0 = (y0 & (LATTICE - 1)) * LATTICE;
  const j1 = ((y0 + 1) & (LATTICE - 1)) * LATTICE;
  const top = lattice[j0 + i0] + (lattice[j0 + i1] - lattice[j0 + i0]) * fx;
  const bottom = lattice[j1 + i0] + (lattice[j1 + i1] - lattice[j1 + i0]) * fx;
  return top + (bottom - top) * fy;
}

/** Three octaves of value noise, in [0, 1]. */
function fbm(lattice: Float32Array, x: number, y: number): number {
  return (
    (4 * valueNoise(lattice, x, y) + 2 * valueNoise(lattice, 2 * x + 5.3, 2 * y + 1.7)) / 7 +
    valueNoise(lattice, 4 * x + 2.1, 4 * y + 9.2) / 7
  );
}

/** Integer hash to [0, 1), for per-brick shades. */
function hash2(i: number, j: number): number {
  let h = Math.imul(i, 0x27d4eb2d) ^ Math.imul(j, 0x165667b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h ^= h >>> 13;
  return (h >>> 0) / 4294967296;
}

// One function per kind paints RGBA pixels, mixing colour A towards colour B by a per-pixel
// weight. Separate small functions keep every call inlined (no per-pixel allocations).

function put(out: Uint8ClampedArray, i: number, bg: Background, w: number): void {
  const a = bg.colourA;
  const b = bg.colourB;
  out[4 * i] = a[0] + (b[0] - a[0]) * w;
  out[4 * i + 1] = a[1] + (b[1] - a[1]) * w;
  out[4 * i + 2] = a[2] + (b[2] - a[2]) * w;
  out[4 * i + 3] = 255;
}

function stripes(bg: Background, size: number, out: Uint8ClampedArray): void {
  const px = 1 / size;
  const c = Math.cos(bg.angle) / bg.period;
  const s = Math.sin(bg.angle) / bg.period;
  const w = px / bg.period;
  let i = 0;
  for (let y = 0; y < size; y++) {
    const v = (y + 0.5) * px;
    for (let x = 0; x < size; x++) put(out, i++, bg, squareWave((x + 0.5) * px * c + v * s + bg.phase, w));
  }
}

// Squares of side `period`, tilted by at most 0.3 rad.
function checker(bg: Background, size: number, out: Uint8ClampedArray): void {
  const px = 1 / size;
  const tilt = (bg.angle - Math.PI / 2) * 0.2;
  const c = Math.cos(tilt) / (2 * bg.period);
  const s = Math.sin(tilt) / (2 * bg.period);
  const w = px / (2 * bg.period);
  let i = 0;
  for (let y = 0; y < size; y++) {
    const v = (y + 0.5) * px;
    for (let x = 0; x < size; x++) {
      const u = (x + 0.5) * px;
      const a = squareWave(u * c + v * s, w);
      const b = squareWave(v * c - u * s, w);
      put(out, i++, bg, a + b - 2 * a * b);
    }
  }
}

// Dots of radius 0.28 period on a staggered grid.
function dots(bg: Background, size: number, out: Uint8ClampedArray): void {
  const px = 1 / size;
  const p = bg.period;
  let i = 0;
  for (let y = 0; y < size; y++) {
    const v = (y + 0.5) * px;
    const row = Math.floor(v / p);
    const dy = (v / p - row - 0.5) * p;
    for (let x = 0; x < size; x++) {
      const t = ((x + 0.5) * px) / p + 0.5 * (row & 1) + bg.phase;
      const dx = (t - Math.floor(t) - 0.5) * p;
      put(out, i++, bg, Math.min(Math.max(0.5 - (Math.sqrt(dx * dx + dy * dy) - 0.28 * p) / px, 0), 1));
    }
  }
}

function gradient(bg: Background, size: number, out: Uint8ClampedArray): void {
  const px = 1 / size;
  const c = 0.8 * Math.cos(bg.angle);
  const s = 0.8 * Math.sin(bg.angle);
  let i = 0;
  for (let y = 0; y < size; y++) {
    const v = (y + 0.5) * px - 0.5;
    for (let x = 0; x < size; x++)
      put(out, i++, bg, Math.min(Math.max(0.5 + ((x + 0.5) * px - 0.5) * c + v * s, 0), 1));
  }
}

function noise(bg: Background, size: number, out: Uint8ClampedArray): void {
  const px = 6 / size;
  let i = 0;
  for (let y = 0; y < size; y++) {
    const v = (y + 0.5) * px;
    for (let x = 0; x < size; x++) put(out, i++, bg, fbm(bg.lattice, (x + 0.5) * px, v));
  }
}

// Grain lines along the angle, bent by low-frequency noise, with darker late wood.
function wood(bg: Background, size: number, out: Uint8ClampedArray): void {
  const px = 1 / size;
  const c = Math.cos(bg.angle);
  const s = Math.sin(bg.angle);
  let i = 0;
  for (let y = 0; y < size; y++) {
    const v = (y + 0.5) * px;
    for (let x = 0; x < size; x++) {
      const u = (x + 0.5) * px;
      const along = u * c + v * s;
      const across = v * c - u * s;
      const t = across / bg.period + 1.8 * fbm(bg.lattice, along, across * 4);
      const w = 0.5 + 0.5 * Math.cos(2 * Math.PI * t);
      put(out, i++, bg, 0.8 * w * w * w * w + 0.2 * valueNoise(bg.lattice, along * 3 + 7.7, across * 40));
    }
  }
}

// Courses of height 0.9 period, bricks twice as wide, staggered; mortar in colour B.
function bricks(bg: Background, size: number, out: Uint8ClampedArray): void {
  const px = 1 / size;
  const h = bg.period * 0.9;
  const mortar = 0.06 * h;
  let i = 0;
  for (let y = 0; y < size; y++) {
    const v = (y + 0.5) * px;
    const row = Math.floor(v / h);
    const edgeY = (0.5 - Math.abs(v / h - row - 0.5)) * h;
    for (let x = 0; x < size; x++) {
      const t = ((x + 0.5) * px) / (2 * h) + 0.5 * (row & 1) + bg.phase;
      const col = Math.floor(t);
      const edgeX = (0.5 - Math.abs(t - col - 0.5)) * 2 * h;
      const m = Math.min(Math.max(0.5 - (Math.min(edgeX, edgeY) - mortar) / px, 0), 1);
      put(out, i++, bg, m + (1 - m) * 0.35 * hash2(row, col));
    }
  }
}

const PATTERNS: Record<BackgroundKind, (bg: Background, size: number, out: Uint8ClampedArray) => void> = {
  stripes,
  checker,
  dots,
  gradient,
  noise,
  wood,
  bricks,
};

/** Paints the background into `out`, size * size RGBA pixels. */
export function paintBackground(bg: Background, size: number, out: Uint8ClampedArray): void {
  PATTERNS[bg.kind](bg, size, out);
}
