// Principal components of patch features, for showing them as RGB: the top eigenvectors of the
// centred data's small side (the n x n Gram matrix when there are fewer patches than dimensions,
// else the d x d scatter matrix) by subspace iteration with a Rayleigh-Ritz step, in float64.
// Pure functions: they run in a worker (or in Node for the tests), never on a GPU.

export interface Eigen {
  /** Eigenvalues, largest first. */
  values: Float64Array;
  /** [k, m] unit eigenvectors, one per row, in the order of `values`. */
  vectors: Float64Array;
}

/** Eigenvalues and eigenvectors of a small symmetric matrix by cyclic Jacobi rotations. */
export function jacobiEigen(matrix: Float64Array, m: number): Eigen {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(m * m);
  for (let i = 0; i < m; i++) v[i * m + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) off += a[i * m + j] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < m; p++) {
      for (let q = p + 1; q < m; q++) {
        const apq = a[p * m + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * m + q] - a[p * m + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < m; k++) {
          const akp = a[k * m + p];
          const akq = a[k * m + q];
          a[k * m + p] = c * akp - s * akq;
          a[k * m + q] = s * akp + c * akq;
        }
        for (let k = 0; k < m; k++) {
          const apk = a[p * m + k];
          const aqk = a[q * m + k];
          a[p * m + k] = c * apk - s * aqk;
          a[q * m + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < m; k++) {
          const vkp = v[k * m + p];
          const vkq = v[k * m + q];
          v[k * m + p] = c * vkp - s * vkq;
          v[k * m + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: m }, (_, i) => i).sort((x, y) => a[y * m + y] - a[x * m + x]);
  const values = Float64Array.from(order, (i) => a[i * m + i]);
  const vectors = new Float64Array(m * m);
  order.forEach((col, r) => {
    for (let k = 0; k < m; k++) vectors[r * m + k] = v[k * m + col];
  });
  return { values, vectors };
}

/** Orthonormalises the rows of q [p, m] in place (modified Gram-Schmidt); a dependent row becomes a fresh axis. */
function orthonormalise(q: Float64Array, p: number, m: number): void {
  for (let i = 0; i < p; i++) {
    const row = q.subarray(i * m, (i + 1) * m);
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < i; j++) {
        const prev = q.subarray(j * m, (j + 1) * m);
        let dot = 0;
        for (let k = 0; k < m; k++) dot += row[k] * prev[k];
        for (let k = 0; k < m; k++) row[k] -= dot * prev[k];
      }
    }
    let norm = Math.hypot(...row);
    if (norm < 1e-12) {
      row.fill(0);
      row[(i * 7919) % m] = 1;
      for (let j = 0; j < i; j++) {
        const prev = q.subarray(j * m, (j + 1) * m);
        let dot = 0;
        for (let k = 0; k < m; k++) dot += row[k] * prev[k];
        for (let k = 0; k < m; k++) row[k] -= dot * prev[k];
      }
      norm = Math.hypot(...row) || 1;
    }
    for (let k = 0; k < m; k++) row[k] /= norm;
  }
}

/**
 * The k largest eigenpairs of a symmetric positive semi-definite m x m matrix: subspace
 * iteration on a block of k + 2 vectors, each round finished by a Rayleigh-Ritz step, until the
 * residuals |A v - lambda v| are below tol times the largest eigenvalue.
 */
export function topEigen(matrix: Float64Array, m: number, k: number, tol = 1e-9, maxRounds = 500): Eigen {
  k = Math.min(k, m);
  const p = Math.min(m, k + 2);
  let q = new Float64Array(p * m);
  // A fixed start with weight on every coordinate, so results are reproducible.
  for (let i = 0; i < p; i++)
    for (let j = 0; j < m; j++) q[i * m + j] = Math.sin(1 + 1.7 * (i + 1) * (j + 1) + 0.3 * j);
  orthonormalise(q, p, m);
  const aq = new Float64Array(p * m);
  let ritz: Eigen = { values: new Float64Array(p), vectors: new Float64Array(p * p) };
  for (let round = 0; round < maxRounds; round++) {
    for (let i = 0; i < p; i++) {
      const qi = q.subarray(i * m, (i + 1) * m);
      for (let r = 0; r < m; r++) {
        let s = 0;
        const row = r * m;
        for (let c = 0; c < m; c++) s += matrix[row + c] * qi[c];
        aq[i * m + r] = s;
      }
    }
    // Rayleigh-Ritz: the p x p projection Q A Q^T, diagonalised, rotates the block onto its Ritz vectors.
    const h = new Float64Array(p * p);
    for (let i = 0; i < p; i++)
      for (let j = 0; j < p; j++) {
        let s = 0;
        for (let r = 0; r < m; r++) s += q[i * m + r] * aq[j * m + r];
        h[i * p + j] = s;
      }
    for (let i = 0; i < p; i++)
      for (let j = i + 1; j < p; j++) h[i * p + j] = h[j * p + i] = (h[i * p + j] + h[j * p + i]) / 2;
    ritz = jacobiEigen(h, p);
    const rotated = new Float64Array(p * m);
    const rotatedA = new Float64Array(p * m);
    for (let i = 0; i < p; i++)
      for (let j = 0; j < p; j++) {
        const w = ritz.vectors[i * p + j];
        for (let r = 0; r < m; r++) {
          rotated[i * m + r] += w * q[j * m + r];
          rotatedA[i * m + r] += w * aq[j * m + r];
        }
      }
    let worst = 0;
    for (let i = 0; i < k; i++) {
      let res = 0;
      for (let r = 0; r < m; r++) res += (rotatedA[i * m + r] - ritz.values[i] * rotated[i * m + r]) ** 2;
      worst = Math.max(worst, Math.sqrt(res));
    }
    q = rotated;
    if (worst <= tol * Math.max(Math.abs(ritz.values[0]), 1e-300)) break;
    q = rotatedA;
    orthonormalise(q, p, m);
  }
  return { values: ritz.values.slice(0, k), vectors: q.slice(0, k * m) };
}

export interface Pca {
  /** [n, k] coordinates of each row on the top k principal axes. */
  projections: Float64Array;
  /** Variance along each axis (eigenvalue / n), largest first. */
  variances: Float64Array;
  k: number;
}

/**
 * PCA of n rows of d values: each row's coordinates on the k principal axes. An axis's sign is
 * chosen so that the row farthest along it is on the positive side (the sign is otherwise arbitrary).
 */
export function pca(x: ArrayLike<number>, n: number, d: number, k = 3): Pca {
  if (x.length !== n * d) throw new Error(`pca: ${x.length} values are not ${n} rows of ${d}`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j] / n;
  const c = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) c[i * d + j] = x[i * d + j] - mean[j];
  k = Math.min(k, n, d);
  const projections = new Float64Array(n * k);
  let values: Float64Array;
  if (n <= d) {
    // Gram matrix C C^T: its eigenvectors scaled by sqrt(lambda) are the coordinates.
    const g = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let t = 0; t < d; t++) s += c[i * d + t] * c[j * d + t];
        g[i * n + j] = g[j * n + i] = s;
      }
    const e = topEigen(g, n, k);
    values = e.values;
    for (let a = 0; a < k; a++) {
      const scale = Math.sqrt(Math.max(values[a], 0));
      for (let i = 0; i < n; i++) projections[i * k + a] = e.vectors[a * n + i] * scale;
    }
  } else {
    // Scatter matrix C^T C: coordinates are C times its eigenvectors.
    const s = new Float64Array(d * d);
    for (let i = 0; i < n; i++)
      for (let a = 0; a < d; a++) {
        const v = c[i * d + a];
        if (v === 0) continue;
        for (let b = 0; b <= a; b++) s[a * d + b] += v * c[i * d + b];
      }
    for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) s[b * d + a] = s[a * d + b];
    const e = topEigen(s, d, k);
    values = e.values;
    for (let i = 0; i < n; i++)
      for (let a = 0; a < k; a++) {
        let t = 0;
        for (let j = 0; j < d; j++) t += c[i * d + j] * e.vectors[a * d + j];
        projections[i * k + a] = t;
      }
  }
  for (let a = 0; a < k; a++) {
    let far = 0;
    for (let i = 0; i < n; i++)
      if (Math.abs(projections[i * k + a]) > Math.abs(far)) far = projections[i * k + a];
    if (far < 0) for (let i = 0; i < n; i++) projections[i * k + a] = -projections[i * k + a];
  }
  return { projections, variances: values.map((v) => Math.max(v, 0) / n), k };
}

/**
 * Patch features as colours: the top three principal components, each stretched to 0..255 over
 * its own range, as R, G and B. Returns n RGBA pixels (alpha 255); a missing or flat component is 0.
 */
export function pcaRgb(x: ArrayLike<number>, n: number, d: number): Uint8ClampedArray {
  const { projections, k } = pca(x, n, d, 3);
  const out = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) out[i * 4 + 3] = 255;
  for (let a = 0; a < k; a++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      lo = Math.min(lo, projections[i * k + a]);
      hi = Math.max(hi, projections[i * k + a]);
    }
    if (!(hi - lo > 1e-12 * Math.max(1, Math.abs(hi)))) continue;
    for (let i = 0; i < n; i++)
      out[i * 4 + a] = Math.round((255 * (projections[i * k + a] - lo)) / (hi - lo));
  }
  return out;
}
