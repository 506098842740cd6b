// Dense maps from patch features and text embeddings: cosine similarity of each patch to a text
// query, zero-shot segmentation (the most similar class text per patch), caption ranking by an
// image embedding, and what turns a map into pixels (bilinear upsampling, a colour scale, class
// colours). Pure functions over Float32Arrays: the tests check them on known answers.

/** Cosine similarity of each of n rows of d values with `query` (a zero row scores 0). */
export function cosineMap(
  rows: ArrayLike<number>,
  n: number,
  d: number,
  query: ArrayLike<number>,
): Float32Array {
  if (rows.length !== n * d || query.length !== d)
    throw new Error(
      `cosineMap: ${rows.length} values are not ${n} rows of ${d}, or the query is not ${d} long`,
    );
  let qn = 0;
  for (let j = 0; j < d; j++) qn += query[j] * query[j];
  qn = Math.sqrt(qn);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let dot = 0;
    let rn = 0;
    for (let j = 0; j < d; j++) {
      const v = rows[i * d + j];
      dot += v * query[j];
      rn += v * v;
    }
    const denom = Math.sqrt(rn) * qn;
    out[i] = denom > 0 ? dot / denom : 0;
  }
  return out;
}

export interface Segmentation {
  /** [n] index of the most similar class per row (the first on ties). */
  labels: Int32Array;
  /** [n] that class's cosine similarity. */
  scores: Float32Array;
  /** [c] how many rows each class won. */
  counts: Int32Array;
}

/** Zero-shot segmentation: for each of n rows, the class (c embeddings of d values) of highest cosine. */
export function segment(
  rows: ArrayLike<number>,
  n: number,
  d: number,
  classes: ArrayLike<number>,
  c: number,
): Segmentation {
  if (classes.length !== c * d)
    throw new Error(`segment: ${classes.length} values are not ${c} classes of ${d}`);
  const labels = new Int32Array(n);
  const scores = new Float32Array(n).fill(-Infinity);
  for (let k = 0; k < c; k++) {
    const sim = cosineMap(rows, n, d, Array.prototype.slice.call(classes, k * d, (k + 1) * d));
    for (let i = 0; i < n; i++)
      if (sim[i] > scores[i]) {
        scores[i] = sim[i];
        labels[i] = k;
      }
  }
  const counts = new Int32Array(c);
  for (const l of labels) counts[l]++;
  return { labels, scores, counts };
}

export interface Ranked {
  index: number;
  score: number;
}

/** Texts (t embeddings of d values) ranked by cosine similarity with `embedding`, best first. */
export function rankTexts(embedding: ArrayLike<number>, texts: ArrayLike<number>, t: number): Ranked[] {
  const d = embedding.length;
  return Array.from(cosineMap(texts, t, d, embedding), (score, index) => ({ index, score })).sort(
    (a, b) => b.score - a.score || a.index - b.index,
  );
}

/**
 * A gw x gh map of patch values upsampled to width x height by bilinear interpolation between
 * patch centres (edges clamped), as an image resize with half-pixel centres.
 */
export function upsample(
  map: ArrayLike<number>,
  gw: number,
  gh: number,
  width: number,
  height: number,
): Float32Array {
  if (map.length !== gw * gh) throw new Error(`upsample: ${map.length} values are not a ${gw} x ${gh} grid`);
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(Math.max(((y + 0.5) * gh) / height - 0.5, 0), gh - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, gh - 1);
    const fy = sy - y0;
    for (let x = 0; x < width; x++) {
      const sx = Math.min(Math.max(((x + 0.5) * gw) / width - 0.5, 0), gw - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, gw - 1);
      const fx = sx - x0;
      const top = map[y0 * gw + x0] * (1 - fx) + map[y0 * gw + x1] * fx;
      const bottom = map[y1 * gw + x0] * (1 - fx) + map[y1 * gw + x1] * fx;
      out[y * width + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** The smallest and largest finite value (0, 0 when there is none). */
export function range(values: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : [0, 0];
}

// A perceptually ordered dark-to-bright scale (stops of matplotlib's "inferno").
const HEAT_STOPS: [number, number, number][] = [
  [0, 0, 4],
  [40, 11, 84],
  [101, 21, 110],
  [159, 42, 99],
  [212, 72, 66],
  [245, 125, 21],
  [250, 193, 39],
  [252, 255, 164],
];

/** t in [0, 1] (clamped) to an RGB colour on the heat scale. */
export function heatColour(t: number): [number, number, number] {
  const s = Math.min(Math.max(Number.isFinite(t) ? t : 0, 0), 1) * (HEAT_STOPS.length - 1);
  const i = Math.min(Math.floor(s), HEAT_STOPS.length - 2);
  const f = s - i;
  const a = HEAT_STOPS[i];
  const b = HEAT_STOPS[i + 1];
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f)) as [number, number, number];
}

// Distinct colours for up to 12 classes, then repeating (Tableau 10 and two more).
const CLASS_COLOURS: [number, number, number][] = [
  [78, 121, 167],
  [242, 142, 43],
  [225, 87, 89],
  [118, 183, 178],
  [89, 161, 79],
  [237, 201, 72],
  [176, 122, 161],
  [255, 157, 167],
  [156, 117, 95],
  [186, 176, 172],
  [31, 31, 31],
  [0, 160, 220],
];

export function classColour(k: number): [number, number, number] {
  return CLASS_COLOURS[((k % CLASS_COLOURS.length) + CLASS_COLOURS.length) % CLASS_COLOURS.length];
}
