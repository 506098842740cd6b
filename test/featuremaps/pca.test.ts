// PCA for the probe maps, on data whose principal axes and variances are known by construction.
import { describe, expect, it } from "vitest";
import { jacobiEigen, pca, pcaRgb, topEigen } from "../../src/featuremaps/pca";
import { Rng } from "../../src/tensor/rng";

/** A random orthonormal basis of R^m (rows), by Gram-Schmidt on seeded Gaussian vectors. */
function basis(m: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const q = Float64Array.from({ length: m * m }, () => rng.normal());
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < i; j++) {
      let dot = 0;
      for (let k = 0; k < m; k++) dot += q[i * m + k] * q[j * m + k];
      for (let k = 0; k < m; k++) q[i * m + k] -= dot * q[j * m + k];
    }
    let norm = 0;
    for (let k = 0; k < m; k++) norm += q[i * m + k] ** 2;
    for (let k = 0; k < m; k++) q[i * m + k] /= Math.sqrt(norm);
  }
  return q;
}

/** Q^T diag(values) Q for the rows of Q. */
function symmetric(q: Float64Array, values: number[], m: number): Float64Array {
  const a = new Float64Array(m * m);
  for (let e = 0; e < m; e++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < m; j++) a[i * m + j] += values[e] * q[e * m + i] * q[e * m + j];
  return a;
}

function absDot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return Math.abs(s);
}

describe("eigensolvers", () => {
  it("Jacobi diagonalises a small symmetric matrix with known eigenpairs", () => {
    const m = 5;
    const q = basis(m, 1);
    const values = [7, -2, 3.5, 0.25, 1];
    const e = jacobiEigen(symmetric(q, values, m), m);
    expect(Array.from(e.values)).toEqual([7, 3.5, 1, 0.25, -2].map((v) => expect.closeTo(v, 10)));
    const order = [0, 2, 4, 3, 1];
    order.forEach((src, r) => {
      expect(absDot(e.vectors.subarray(r * m, (r + 1) * m), q.subarray(src * m, (src + 1) * m))).toBeCloseTo(
        1,
        10,
      );
    });
  });

  it("subspace iteration finds the top 3 eigenpairs of a 60 x 60 PSD matrix, close ones too", () => {
    const m = 60;
    const q = basis(m, 2);
    const values = Array.from({ length: m }, (_, i) => (i < 3 ? [10, 9.5, 9.4][i] : 5 * 0.9 ** i));
    const e = topEigen(symmetric(q, values, m), m, 3);
    expect(Array.from(e.values)).toEqual([10, 9.5, 9.4].map((v) => expect.closeTo(v, 7)));
    for (let r = 0; r < 3; r++)
      expect(absDot(e.vectors.subarray(r * m, (r + 1) * m), q.subarray(r * m, (r + 1) * m))).toBeCloseTo(
        1,
        6,
      );
  });
});

describe("pca", () => {
  /** n points with coordinates drawn along 3 known orthonormal axes of R^d (variances 9, 4, 1) plus a mean. */
  function sample(n: number, d: number) {
    const axes = basis(d, 3);
    const rng = new Rng(4);
    const coords = new Float64Array(n * 3);
    const x = new Float32Array(n * d);
    const sd = [3, 2, 1];
    for (let i = 0; i < n; i++) for (let a = 0; a < 3; a++) coords[i * 3 + a] = sd[a] * rng.normal();
    // Centre the coordinates so that the data's mean is exactly the offset below.
    for (let a = 0; a < 3; a++) {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += coords[i * 3 + a] / n;
      for (let i = 0; i < n; i++) coords[i * 3 + a] -= mean;
    }
    // Make the three coordinate columns exactly uncorrelated, so the axes are exactly principal.
    for (let a = 0; a < 3; a++)
      for (let b = 0; b < a; b++) {
        let dot = 0;
        let nb = 0;
        for (let i = 0; i < n; i++) {
          dot += coords[i * 3 + a] * coords[i * 3 + b];
          nb += coords[i * 3 + b] ** 2;
        }
        for (let i = 0; i < n; i++) coords[i * 3 + a] -= (dot / nb) * coords[i * 3 + b];
      }
    for (let i = 0; i < n; i++)
      for (let j = 0; j < d; j++) {
        let v = 0.5 + j * 0.01;
        for (let a = 0; a < 3; a++) v += coords[i * 3 + a] * axes[a * d + j];
        x[i * d + j] = v;
      }
    return { x, coords };
  }

  for (const [n, d, path] of [
    [200, 8, "scatter matrix"],
    [12, 40, "Gram matrix"],
  ] as const)
    it(`recovers known coordinates up to sign (${n} rows of ${d}: the ${path})`, () => {
      const { x, coords } = sample(n, d);
      const p = pca(x, n, d, 3);
      const variance = (a: number) => coords.filter((_, i) => i % 3 === a).reduce((s, v) => s + v * v, 0) / n;
      for (let a = 0; a < 3; a++) {
        expect(p.variances[a]).toBeCloseTo(variance(a), 3);
        const got = Array.from({ length: n }, (_, i) => p.projections[i * 3 + a]);
        const want = Array.from({ length: n }, (_, i) => coords[i * 3 + a]);
        const sign = Math.sign(got[0] * want[0]);
        for (let i = 0; i < n; i++) expect(got[i]).toBeCloseTo(sign * want[i], 3);
        // The sign convention: the row farthest along the axis is positive.
        const far = got.reduce((best, v) => (Math.abs(v) > Math.abs(best) ? v : best), 0);
        expect(far).toBeGreaterThan(0);
      }
    });

  it("pcaRgb stretches each component to 0..255", () => {
    // Four points on one line (t = 0, 1, 2, 5 along (1, 1)): only the first component varies, and
    // the farthest point from the mean (t = 5) is on its positive side; G and B are 0.
    const x = new Float32Array([0, 0, 1, 1, 2, 2, 5, 5]);
    const rgb = pcaRgb(x, 4, 2);
    expect(Array.from(rgb)).toEqual([0, 0, 0, 255, 51, 0, 0, 255, 102, 0, 0, 255, 255, 0, 0, 255]);
  });
});
