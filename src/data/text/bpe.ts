// BPE segmentation (bpe_model.cc, without dropout): the highest-scoring adjacent pair merged first,
// user-defined symbols never merged, unused merges split back into their parts.
import { PieceType } from "./model-file";
import { lenient, oneCharLen, type PrefixMatcher } from "./normalizer";

/** What BPE reads of a model. */
export interface BpeModel {
  readonly scores: Float32Array;
  readonly types: Uint8Array;
  /** Normal, user-defined and unused pieces (what segmentation may produce). */
  readonly index: ReadonlyMap<string, number>;
  readonly userMatcher: PrefixMatcher;
  pieceToId(piece: string): number;
}

/** BPE segmentation: bpe_model.cc (without dropout). */
export function bpeSegment(normalized: Uint8Array, model: BpeModel): [string, number][] {
  const { scores, types } = model;
  // Symbols: user-defined symbols (never merged) or single characters.
  const piece: string[] = [];
  const freeze: boolean[] = [];
  for (let pos = 0; pos < normalized.length; ) {
    const user = model.userMatcher.match(normalized, pos, normalized.length);
    const n = user > 0 ? user : Math.min(oneCharLen(normalized[pos]), normalized.length - pos);
    piece.push(lenient.decode(normalized.subarray(pos, pos + n)));
    freeze.push(user > 0);
    pos += n;
  }
  const count = piece.length;
  const prev = Int32Array.from({ length: count }, (_, i) => i - 1);
  const next = Int32Array.from({ length: count }, (_, i) => (i + 1 < count ? i + 1 : -1));
  const heap = new PairHeap();
  const revMerge = new Map<string, [string, string]>();
  const addPair = (left: number, right: number) => {
    if (left === -1 || right === -1 || freeze[left] || freeze[right]) return;
    const merged = piece[left] + piece[right];
    const id = model.index.get(merged);
    if (id === undefined) return;
    heap.push({ left, right, score: scores[id], size: merged.length });
    if (types[id] === PieceType.Unused) revMerge.set(merged, [piece[left], piece[right]]);
  };
  for (let i = 1; i < count; i++) addPair(i - 1, i);
  for (let top = heap.pop(); top; top = heap.pop()) {
    const { left, right } = top;
    if (piece[left] === "" || piece[right] === "" || piece[left].length + piece[right].length !== top.size)
      continue;
    piece[left] += piece[right];
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
    piece[right] = "";
    addPair(prev[left], left);
    addPair(left, next[left]);
  }
  const out: [string, number][] = [];
  const resegment = (w: string) => {
    const id = model.pieceToId(w);
    const split = types[id] === PieceType.Unused ? revMerge.get(w) : undefined;
    if (!split) out.push([w, id]);
    else {
      resegment(split[0]);
      resegment(split[1]);
    }
  };
  for (let i = 0; i !== -1 && count > 0; i = next[i]) resegment(piece[i]);
  return out;
}

interface SymbolPair {
  left: number;
  right: number;
  score: number;
  size: number;
}

/** Max-heap of symbol pairs: higher score first, then the leftmost (bpe_model.cc's agenda). */
class PairHeap {
  private items: SymbolPair[] = [];

  private static before(a: SymbolPair, b: SymbolPair): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }

  push(p: SymbolPair): void {
    const h = this.items;
    h.push(p);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!PairHeap.before(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  pop(): SymbolPair | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && PairHeap.before(h[l], h[m])) m = l;
        if (r < h.length && PairHeap.before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
