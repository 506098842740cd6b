// Unigram segmentation (unigram_model.cc EncodeOptimized): the best-scoring path through the
// lattice of pieces, on code points, with path scores summed in float32 as sentencepiece 0.2.2 does.
import { PieceType } from "./model-file";
import { encoder, lenient } from "./normalizer";

const UNK_PENALTY = 10;
const f32 = Math.fround;

/** What the unigram search reads of a model. */
export interface UnigramModel {
  readonly scores: Float32Array;
  readonly types: Uint8Array;
  /** Every segmentable piece and every prefix of one (id -1): the search stops where a key is in none. */
  readonly prefixes: ReadonlyMap<string, number>;
  readonly minScore: number;
  readonly maxScore: number;
  readonly unkId: number;
}

/** Unigram segmentation: unigram_model.cc EncodeOptimized, on code points, in float32 as in C++. */
export function unigramSegment(normalized: Uint8Array, model: UnigramModel): [string, number][] {
  const chars = Array.from(lenient.decode(normalized));
  const n = chars.length;
  const { scores, types } = model;
  const best = new Float64Array(n + 1); // float32 values
  const from = new Int32Array(n + 1).fill(-1);
  const ids = new Int32Array(n + 1);
  const unkScore = f32(model.minScore - UNK_PENALTY);
  const encodedLength = (s: string) => encoder.encode(s).length;
  for (let start = 0; start < n; start++) {
    const base = best[start];
    let single = false;
    let key = "";
    for (let len = 1; start + len <= n; len++) {
      key += chars[start + len - 1];
      const id = model.prefixes.get(key);
      if (id === undefined) break;
      if (id < 0 || types[id] === PieceType.Unused) continue;
      // Float32 throughout, as sentencepiece 0.2.2 computes it (checked on exact ties).
      const score =
        types[id] === PieceType.UserDefined
          ? f32(f32(encodedLength(key) * model.maxScore) - 0.1)
          : scores[id];
      const candidate = f32(score + base);
      const end = start + len;
      if (from[end] === -1 || candidate > best[end]) {
        best[end] = candidate;
        from[end] = start;
        ids[end] = id;
      }
      if (len === 1) single = true;
    }
    if (!single) {
      const candidate = f32(unkScore + base);
      const end = start + 1;
      if (from[end] === -1 || candidate > best[end]) {
        best[end] = candidate;
        from[end] = start;
        ids[end] = model.unkId;
      }
    }
  }
  const out: [string, number][] = [];
  for (let end = n; end > 0; end = from[end]) out.push([chars.slice(from[end], end).join(""), ids[end]]);
  return out.reverse();
}
