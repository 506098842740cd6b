// The shape vocabulary of the `scenes` dataset as signed distance functions (negative inside),
// after Inigo Quilez's exact 2D distance functions. Local frame: the shape is centred at the
// origin and fits inside the unit circle, y points up. Exact distances give analytic
// antialiasing: coverage = clamp(0.5 - distance / pixel, 0, 1).

export const SHAPES = [
  "circle",
  "square",
  "triangle",
  "star",
  "ring",
  "cross",
  "heart",
  "diamond",
  "hexagon",
  "crescent",
] as const;
export type ShapeName = (typeof SHAPES)[number];

const SQRT3 = Math.sqrt(3);

// Math.hypot is several times slower in V8, and these run once per pixel.
function length(x: number, y: number): number {
  return Math.sqrt(x * x + y * y);
}

function circle(x: number, y: number): number {
  return length(x, y) - 0.85;
}

// Slightly rounded so that the corners antialias like the rest; half side 0.7.
function square(x: number, y: number): number {
  const b = 0.64;
  const qx = Math.abs(x) - b;
  const qy = Math.abs(y) - b;
  const outside = length(Math.max(qx, 0), Math.max(qy, 0));
  return outside + Math.min(Math.max(qx, qy), 0) - 0.06;
}

// Equilateral, circumradius 1 (half side r = sqrt(3)/2), pointing up; centred on its centroid.
function triangle(x: number, y: number): number {
  const r = SQRT3 / 2;
  let px = Math.abs(x) - r;
  let py = y + r / SQRT3;
  if (px + SQRT3 * py > 0) {
    const nx = (px - SQRT3 * py) / 2;
    py = (-SQRT3 * px - py) / 2;
    px = nx;
  }
  px -= Math.min(Math.max(px, -2 * r), 0);
  return -length(px, py) * Math.sign(py);
}

// Five points, outer radius 1, inner radius 1 * 0.45 (rf).
const K1X = 0.809016994375;
const K1Y = -0.587785252292;
function star(x: number, y: number): number {
  const rf = 0.45;
  let px = Math.abs(x);
  let py = y;
  let d = 2 * Math.max(K1X * px + K1Y * py, 0);
  px -= d * K1X;
  py -= d * K1Y;
  d = 2 * Math.max(-K1X * px + K1Y * py, 0);
  px -= d * -K1X;
  py -= d * K1Y;
  px = Math.abs(px);
  py -= 1;
  const bax = -rf * K1Y;
  const bay = rf * K1X - 1;
  const h = Math.min(Math.max((px * bax + py * bay) / (bax * bax + bay * bay), 0), 1);
  return length(px - bax * h, py - bay * h) * Math.sign(py * bax - px * bay);
}

function ring(x: number, y: number): number {
  return Math.abs(length(x, y) - 0.7) - 0.22;
}

// Plus sign: arms of half length 0.92 and half width 0.3.
function cross(x: number, y: number): number {
  let px = Math.abs(x);
  let py = Math.abs(y);
  if (py > px) {
    const t = px;
    px = py;
    py = t;
  }
  const qx = px - 0.92;
  const qy = py - 0.3;
  const k = Math.max(qx, qy);
  const wx = k > 0 ? qx : 0.3 - px;
  const wy = k > 0 ? qy : -k;
  return Math.sign(k) * length(Math.max(wx, 0), Math.max(wy, 0));
}

// The unit heart spans y in [0, 1.1]; shift it to its middle and scale it by 1.4.
function heart(x: number, y: number): number {
  const s = 1.4;
  const px = Math.abs(x / s);
  const py = y / s + 0.55;
  if (px + py > 1) return (length(px - 0.25, py - 0.75) - Math.SQRT2 / 4) * s;
  const m = 0.5 * Math.max(px + py, 0);
  const d2 = Math.min(px * px + (py - 1) * (py - 1), (px - m) * (px - m) + (py - m) * (py - m));
  return Math.sqrt(d2) * Math.sign(px - py) * s;
}

// A tall rhombus (half width 0.6, half height 0.98): no rotation turns it into the square.
function diamond(x: number, y: number): number {
  const bx = 0.6;
  const by = 0.98;
  const px = Math.abs(x);
  const py = Math.abs(y);
  const h = Math.min(Math.max(((bx - 2 * px) * bx - (by - 2 * py) * by) / (bx * bx + by * by), -1), 1);
  const d = length(px - 0.5 * bx * (1 - h), py - 0.5 * by * (1 + h));
  return d * Math.sign(px * by + py * bx - bx * by);
}

// Regular, inradius 0.82 (circumradius 0.95).
function hexagon(x: number, y: number): number {
  const r = 0.82;
  const kx = -0.866025404;
  const ky = 0.5;
  const kz = 0.577350269;
  let px = Math.abs(x);
  let py = Math.abs(y);
  const d = 2 * Math.min(kx * px + ky * py, 0);
  px -= d * kx;
  py -= d * ky;
  px -= Math.min(Math.max(px, -kz * r), kz * r);
  py -= r;
  return length(px, py) * Math.sign(py);
}

// A disc of radius 0.92 minus a disc of radius 0.75 moved 0.45 to the right.
const MOON_RA = 0.92;
const MOON_RB = 0.75;
const MOON_D = 0.45;
const MOON_A = (MOON_RA * MOON_RA - MOON_RB * MOON_RB + MOON_D * MOON_D) / (2 * MOON_D);
const MOON_B = Math.sqrt(Math.max(MOON_RA * MOON_RA - MOON_A * MOON_A, 0));
function crescent(x: number, y: number): number {
  const py = Math.abs(y);
  if (MOON_D * (x * MOON_B - py * MOON_A) > MOON_D * MOON_D * Math.max(MOON_B - py, 0)) {
    return length(x - MOON_A, py - MOON_B);
  }
  return Math.max(length(x, py) - MOON_RA, -(length(x - MOON_D, py) - MOON_RB));
}

/** Signed distance to SHAPES[shape] at local point (x, y). A switch, not a table of functions, so
 * that V8 inlines every call site and the per-pixel loops stay free of allocations. */
export function shapeDistance(shape: number, x: number, y: number): number {
  switch (shape) {
    case 0:
      return circle(x, y);
    case 1:
      return square(x, y);
    case 2:
      return triangle(x, y);
    case 3:
      return star(x, y);
    case 4:
      return ring(x, y);
    case 5:
      return cross(x, y);
    case 6:
      return heart(x, y);
    case 7:
      return diamond(x, y);
    case 8:
      return hexagon(x, y);
    default:
      return crescent(x, y);
  }
}
