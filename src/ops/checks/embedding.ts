import { Tensor } from "../../tensor/tensor";
import type { OpCase } from "../check";
import { embedding, embeddingBackward } from "../embedding";

/** float64 row gather; ids outside [0, V) give zero rows. */
function refEmbedding(vocab: number, dim: number, fixedIds?: number[]) {
  return ([table, inputIds]: Float64Array[]) => {
    const ids = fixedIds ?? [...inputIds];
    const out = new Float64Array(ids.length * dim);
    ids.forEach((id, n) => {
      if (id < 0 || id >= vocab) return;
      for (let d = 0; d < dim; d++) out[n * dim + d] = table[id * dim + d];
    });
    return out;
  };
}

/** The backward in float32, each row summed in increasing position order: what the GPU must match bit for bit. */
function refBackwardF32(vocab: number, dim: number) {
  return ([dOut, ids]: Float64Array[]) => {
    const dTable = new Float64Array(vocab * dim);
    for (let v = 0; v < vocab; v++) {
      for (let d = 0; d < dim; d++) {
        let acc = 0;
        ids.forEach((id, n) => {
          if (id === v) acc = Math.fround(acc + dOut[n * dim + d]);
        });
        dTable[v * dim + d] = acc;
      }
    }
    return dTable;
  };
}

// The forward is a copy; the backward sums a few float32 rows.
const tol = { atol: 0, rtol: 0, gradAtol: 1e-5, gradRtol: 1e-4 };

function gatherCase(
  vocab: number,
  dim: number,
  idsShape: number[],
  dtype: "i32" | "u32",
  idRange = vocab,
): OpCase {
  return {
    name: `embedding V=${vocab} D=${dim} ids ${dtype}[${idsShape}] in [0, ${idRange})`,
    inputs: [{ shape: [vocab, dim] }, { shape: idsShape, dtype, values: { int: idRange } }],
    run: ([table, ids]) => embedding(table, ids),
    reference: refEmbedding(vocab, dim),
    ...tol,
  };
}

/** A case whose ids are fixed rather than random. */
function fixedIdsCase(name: string, vocab: number, dim: number, ids: number[]): OpCase {
  return {
    name: `embedding V=${vocab} D=${dim} ${name}`,
    inputs: [{ shape: [vocab, dim] }],
    run: ([table]) => embedding(table, Tensor.from(table.gpu, ids, [ids.length], "i32")),
    reference: refEmbedding(vocab, dim, ids),
    ...tol,
  };
}

export const embeddingCases: OpCase[] = [
  gatherCase(1, 1, [1], "i32"),
  gatherCase(5, 3, [12], "i32"), // repeated ids
  gatherCase(67, 129, [3, 7], "i32"),
  gatherCase(37, 5, [300], "u32"), // several workgroups of positions
  gatherCase(300, 4, [2, 9], "i32"), // most rows never referenced
  gatherCase(7, 3, [4, 6], "i32", 10), // ids 7..9 out of range
  fixedIdsCase(
    "every id several times",
    5,
    4,
    Array.from({ length: 23 }, (_, n) => (3 * n + 1) % 5),
  ),
  fixedIdsCase("negative and huge ids give zero rows", 7, 3, [-1, 3, -2147483648, 0, 3, 9, 2147483647, 6]),
  {
    name: "embedding backward V=11 D=33 ids [8, 25]: position-order float32 sums, bit-exact",
    inputs: [{ shape: [8, 25, 33] }, { shape: [8, 25], dtype: "i32", values: { int: 11 } }],
    run: ([dOut, ids]) => embeddingBackward(dOut, ids, 11),
    reference: refBackwardF32(11, 33),
    atol: 0,
    rtol: 0,
    noGrad: true,
  },
];
