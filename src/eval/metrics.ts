// Evaluation metrics on frozen features, as plain functions over typed arrays (no GPU): mIoU,
// RMSE, top-1 accuracy, kNN and zero-shot classification, retrieval Recall@1. Sums and
// similarities are accumulated in float64; embeddings are rows of a flat [N, D] array.

/** Per-class IoU (null where the class is in neither map) and their mean over the others. */
export interface IoUResult {
  mIoU: number;
  perClass: (number | null)[];
}

/**
 * Semantic segmentation mIoU over a whole dataset: the label maps of all images concatenated,
 * intersection and union counted per class over every pixel (not averaged per image), as PASCAL
 * VOC and ADE20k do. A class absent from both maps is left out of the mean; pixels whose true
 * label is `ignore` (or outside [0, classes)) are not counted. Predictions outside [0, classes)
 * count as wrong for the true class.
 */
export function meanIoU(
  predicted: ArrayLike<number>,
  truth: ArrayLike<number>,
  classes: number,
  ignore = -1,
): IoUResult {
  if (predicted.length !== truth.length)
    throw new Error(`meanIoU: ${predicted.length} predictions for ${truth.length} labels`);
  const intersection = new Float64Array(classes);
  const predCount = new Float64Array(classes);
  const trueCount = new Float64Array(classes);
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    if (t === ignore || t < 0 || t >= classes) continue;
    const p = predicted[i];
    trueCount[t]++;
    if (p >= 0 && p < classes) {
      predCount[p]++;
      if (p === t) intersection[t]++;
    }
  }
  const perClass: (number | null)[] = [];
  let sum = 0;
  let present = 0;
  for (let c = 0; c < classes; c++) {
    const union = trueCount[c] + predCount[c] - intersection[c];
    if (union === 0) {
      perClass.push(null);
      continue;
    }
    const iou = intersection[c] / union;
    perClass.push(iou);
    sum += iou;
    present++;
  }
  return { mIoU: present ? sum / present : Number.NaN, perClass };
}

/**
 * The mIoU expected from guessing every pixel's class uniformly at random among `classes`, when
 * the true labels have frequencies `freq` (summing to 1): IoU_c = (f_c / C) / (f_c + 1/C - f_c / C).
 * With balanced classes (f_c = 1/C) this is 1 / (2C - 1).
 */
export function randomGuessMIoU(freq: ArrayLike<number>): number {
  const c = freq.length;
  let sum = 0;
  for (let i = 0; i < c; i++) {
    const f = freq[i];
    sum += f / c / (f + 1 / c - f / c);
  }
  return sum / c;
}

/** Root mean squared error, in float64. */
export function rmse(predicted: ArrayLike<number>, truth: ArrayLike<number>): number {
  if (predicted.length !== truth.length)
    throw new Error(`rmse: ${predicted.length} predictions for ${truth.length} targets`);
  if (truth.length === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < truth.length; i++) {
    const d = predicted[i] - truth[i];
    sum += d * d;
  }
  return Math.sqrt(sum / truth.length);
}

/** Fraction of predictions equal to the label. */
export function top1Accuracy(predicted: ArrayLike<number>, truth: ArrayLike<number>): number {
  if (predicted.length !== truth.length)
    throw new Error(`top1Accuracy: ${predicted.length} predictions for ${truth.length} labels`);
  if (truth.length === 0) return Number.NaN;
  let hits = 0;
  for (let i = 0; i < truth.length; i++) if (predicted[i] === truth[i]) hits++;
  return hits / truth.length;
}

/** The accuracy of always answering the most frequent training label (a baseline). */
export function majorityBaseline(trainLabels: ArrayLike<number>, testLabels: ArrayLike<number>): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < trainLabels.length; i++)
    counts.set(trainLabels[i], (counts.get(trainLabels[i]) ?? 0) + 1);
  let best = -1;
  let bestCount = -1;
  for (const [label, n] of counts) {
    if (n > bestCount || (n === bestCount && label < best)) {
      best = label;
      bestCount = n;
    }
  }
  return top1Accuracy(new Array(testLabels.length).fill(best), testLabels);
}

function rows(x: ArrayLike<number>, dim: number, what: string): number {
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`${what}: bad dimension ${dim}`);
  if (x.length % dim !== 0) throw new Error(`${what}: ${x.length} values are not rows of ${dim}`);
  return x.length / dim;
}

/** Rows of x scaled to unit L2 norm, in float64 (all-zero rows stay zero). */
export function normalizeRows(x: ArrayLike<number>, dim: number): Float64Array {
  const n = rows(x, dim, "normalizeRows");
  const out = new Float64Array(n * dim);
  for (let r = 0; r < n; r++) {
    let ss = 0;
    for (let j = 0; j < dim; j++) ss += x[r * dim + j] * x[r * dim + j];
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let j = 0; j < dim; j++) out[r * dim + j] = x[r * dim + j] * inv;
  }
  return out;
}

/** Cosine similarities [rows of a, rows of b], float64. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>, dim: number): Float64Array {
  const na = rows(a, dim, "cosineSimilarity");
  const nb = rows(b, dim, "cosineSimilarity");
  const an = normalizeRows(a, dim);
  const bn = normalizeRows(b, dim);
  const out = new Float64Array(na * nb);
  for (let i = 0; i < na; i++) {
    for (let j = 0; j < nb; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += an[i * dim + k] * bn[j * dim + k];
      out[i * nb + j] = s;
    }
  }
  return out;
}

export interface KnnOptions {
  /** Neighbours (DINO: 20); capped at the number of training rows. */
  k?: number;
  /**
   * "weighted" (default): DINO's kNN, each neighbour votes exp(cos / temperature) for its label;
   * "majority": one vote per neighbour, ties going to the label with the larger summed similarity.
   */
  vote?: "weighted" | "majority";
  /** Temperature of the weighted vote (DINO: 0.07). */
  temperature?: number;
}

/**
 * k-nearest-neighbour classification by cosine similarity: the predicted label of each test row.
 * Labels are non-negative integers. Equal similarities keep the lower training index first.
 */
export function knnClassify(
  trainFeatures: ArrayLike<number>,
  trainLabels: ArrayLike<number>,
  testFeatures: ArrayLike<number>,
  dim: number,
  options: KnnOptions = {},
): Int32Array {
  const nTrain = rows(trainFeatures, dim, "knnClassify");
  if (trainLabels.length !== nTrain)
    throw new Error(`knnClassify: ${trainLabels.length} labels for ${nTrain} training rows`);
  if (nTrain === 0) throw new Error("knnClassify: no training rows");
  const k = Math.min(options.k ?? 20, nTrain);
  if (!Number.isInteger(k) || k < 1) throw new Error(`knnClassify: k must be a positive integer, got ${k}`);
  const vote = options.vote ?? "weighted";
  const temperature = options.temperature ?? 0.07;
  const sim = cosineSimilarity(testFeatures, trainFeatures, dim);
  const nTest = sim.length / nTrain;
  const out = new Int32Array(nTest);
  const order = Array.from({ length: nTrain }, (_, i) => i);
  for (let q = 0; q < nTest; q++) {
    const s = sim.subarray(q * nTrain, (q + 1) * nTrain);
    order.sort((a, b) => s[b] - s[a] || a - b);
    const votes = new Map<number, number>();
    const support = new Map<number, number>();
    for (let j = 0; j < k; j++) {
      const i = order[j];
      const label = trainLabels[i];
      const w = vote === "weighted" ? Math.exp(s[i] / temperature) : 1;
      votes.set(label, (votes.get(label) ?? 0) + w);
      support.set(label, (support.get(label) ?? 0) + s[i]);
    }
    let best = -1;
    let bestVotes = -Infinity;
    let bestSupport = -Infinity;
    for (const [label, v] of votes) {
      const sup = support.get(label) ?? 0;
      if (
        v > bestVotes ||
        (v === bestVotes && (sup > bestSupport || (sup === bestSupport && label < best)))
      ) {
        best = label;
        bestVotes = v;
        bestSupport = sup;
      }
    }
    out[q] = best;
  }
  return out;
}

/**
 * Zero-shot classification: for each image row, the index of the class text row with the largest
 * cosine similarity (the lower index on ties).
 */
export function zeroShotClassify(
  imageEmbeddings: ArrayLike<number>,
  classEmbeddings: ArrayLike<number>,
  dim: number,
): Int32Array {
  const classes = rows(classEmbeddings, dim, "zeroShotClassify");
  if (classes === 0) throw new Error("zeroShotClassify: no classes");
  const sim = cosineSimilarity(imageEmbeddings, classEmbeddings, dim);
  const n = sim.length / classes;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (sim[i * classes + c] > sim[i * classes + best]) best = c;
    out[i] = best;
  }
  return out;
}

export interface Recall {
  /** For each image, is its own text the most similar one? */
  imageToText: number;
  /** For each text, is its own image the most similar one? */
  textToImage: number;
}

/**
 * Recall@1 both ways for paired rows (image i goes with text i), by cosine similarity. A query
 * scores 1 when its partner is strictly the most similar, and 1 / (1 + t) when t other candidates
 * tie with it (the expected value of breaking ties at random), so that duplicate captions (web
 * alt-texts such as "image") neither help nor hurt by their position.
 */
export function recallAt1(
  imageEmbeddings: ArrayLike<number>,
  textEmbeddings: ArrayLike<number>,
  dim: number,
): Recall {
  const n = rows(imageEmbeddings, dim, "recallAt1");
  if (rows(textEmbeddings, dim, "recallAt1") !== n)
    throw new Error(`recallAt1: ${n} images but ${textEmbeddings.length / dim} texts`);
  if (n === 0) return { imageToText: Number.NaN, textToImage: Number.NaN };
  const sim = cosineSimilarity(imageEmbeddings, textEmbeddings, dim);
  const score = (at: (q: number, c: number) => number): number => {
    let total = 0;
    for (let q = 0; q < n; q++) {
      const own = at(q, q);
      let ties = 0;
      let beaten = false;
      for (let c = 0; c < n && !beaten; c++) {
        if (c === q) continue;
        const v = at(q, c);
        if (v > own) beaten = true;
        else if (v === own) ties++;
      }
      if (!beaten) total += 1 / (1 + ties);
    }
    return total / n;
  };
  return {
    imageToText: score((q, c) => sim[q * n + c]),
    textToImage: score((q, c) => sim[c * n + q]),
  };
}
