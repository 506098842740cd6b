// SentencePiece's normalizer (normalizer.cc): the precompiled charsmap (a darts-clone double-array
// trie), user-defined symbols matched longest first, and whitespace handling; and the UTF-8
// helpers the tokenizer shares with it.
import { ModelFileError, type NormalizerSpec } from "./model-file";

export const SPACE_SYMBOL = "\u2581"; // ▁, U+2581 LOWER ONE EIGHTH BLOCK
const SPACE_BYTES = [0xe2, 0x96, 0x81];
const REPLACEMENT_BYTES = Uint8Array.of(0xef, 0xbf, 0xbd);
export const encoder = new TextEncoder();
export const lenient = new TextDecoder("utf-8", { ignoreBOM: true }); // keeps a leading U+FEFF

/** UTF-8 length from the lead byte, as sentencepiece's OneCharLen (no validation). */
export function oneCharLen(b: number): number {
  return b < 0xc0 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
}

/** sentencepiece's IsValidDecodeUTF8: length of the valid character at `pos`, or 0 if invalid. */
export function validCharLen(s: Uint8Array, pos: number, end: number): number {
  const b0 = s[pos];
  const len = end - pos;
  const trail = (i: number) => (s[pos + i] & 0xc0) === 0x80;
  const ok = (cp: number) => cp < 0xd800 || (cp >= 0xe000 && cp <= 0x10ffff);
  if (b0 < 0x80) return 1;
  if (len >= 2 && (b0 & 0xe0) === 0xc0) {
    const cp = ((b0 & 0x1f) << 6) | (s[pos + 1] & 0x3f);
    if (trail(1) && cp >= 0x80 && ok(cp)) return 2;
  } else if (len >= 3 && (b0 & 0xf0) === 0xe0) {
    const cp = ((b0 & 0x0f) << 12) | ((s[pos + 1] & 0x3f) << 6) | (s[pos + 2] & 0x3f);
    if (trail(1) && trail(2) && cp >= 0x800 && ok(cp)) return 3;
  } else if (len >= 4 && (b0 & 0xf8) === 0xf0) {
    const cp =
      ((b0 & 0x07) << 18) | ((s[pos + 1] & 0x3f) << 12) | ((s[pos + 2] & 0x3f) << 6) | (s[pos + 3] & 0x3f);
    if (trail(1) && trail(2) && trail(3) && cp >= 0x10000 && ok(cp)) return 4;
  }
  return 0;
}

/** Longest-match set of byte strings (user-defined symbols), as sentencepiece's PrefixMatcher. */
export class PrefixMatcher {
  private root = new Map<number, PrefixNode>();
  constructor(words: readonly string[]) {
    for (const w of words) {
      let children = this.root;
      const bytes = encoder.encode(w);
      bytes.forEach((b, i) => {
        let node = children.get(b);
        if (!node) {
          node = { end: false, children: new Map() };
          children.set(b, node);
        }
        if (i === bytes.length - 1) node.end = true;
        children = node.children;
      });
    }
  }

  /** Length of the longest word at `pos`, 0 if none. */
  match(s: Uint8Array, pos: number, end: number): number {
    let best = 0;
    let children = this.root;
    for (let i = pos; i < end; i++) {
      const node = children.get(s[i]);
      if (!node) break;
      if (node.end) best = i + 1 - pos;
      children = node.children;
    }
    return best;
  }
}
interface PrefixNode {
  end: boolean;
  children: Map<number, PrefixNode>;
}

/** The darts-clone double array of a precompiled charsmap, with its replacement strings. */
class CharsMap {
  private units: Uint32Array;
  private normalized: Uint8Array;

  constructor(blob: Uint8Array) {
    const bad = () => new ModelFileError("the normalizer's precompiled charsmap is broken");
    if (blob.length <= 4) throw bad();
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieSize = view.getUint32(0, true);
    if (trieSize >= blob.length || trieSize % 4 !== 0) throw bad();
    this.units = new Uint32Array(trieSize / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.normalized = blob.subarray(4 + trieSize);
  }

  /** The longest rule matching at `pos`: [source length, replacement], or null. */
  match(s: Uint8Array, pos: number, end: number): [number, Uint8Array] | null {
    const units = this.units;
    const offset = (u: number) => (u >>> 10) << ((u & (1 << 9)) >>> 6);
    let node = offset(units[0]);
    let length = 0;
    let value = 0;
    for (let i = pos; i < end; i++) {
      const c = s[i];
      node ^= c;
      if (node >= units.length) break;
      const unit = units[node];
      if ((unit & 0x800000ff) >>> 0 !== c) break; // label
      node ^= offset(unit);
      if ((unit >>> 8) & 1) {
        // has a leaf: its value is an offset into the replacement strings
        if (node >= units.length) break;
        length = i + 1 - pos;
        value = units[node] & 0x7fffffff;
      }
    }
    if (length === 0) return null;
    const n = this.normalized;
    if (value >= n.length) throw new Error("SentencePiece charsmap points past its replacement strings");
    let stop = value;
    while (stop < n.length && n[stop] !== 0) stop++;
    return [length, n.subarray(value, stop)];
  }
}

class ByteWriter {
  buf = new Uint8Array(64);
  length = 0;
  push(b: number): void {
    if (this.length === this.buf.length) {
      const grown = new Uint8Array(this.buf.length * 2);
      grown.set(this.buf);
      this.buf = grown;
    }
    this.buf[this.length++] = b;
  }
  endsWith(bytes: readonly number[]): boolean {
    if (this.length < bytes.length) return false;
    for (let i = 0; i < bytes.length; i++)
      if (this.buf[this.length - bytes.length + i] !== bytes[i]) return false;
    return true;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

export class Normalizer {
  private charsmap: CharsMap | null;

  constructor(
    private spec: NormalizerSpec,
    private treatWhitespaceAsSuffix: boolean,
    private matcher: PrefixMatcher | null,
  ) {
    this.charsmap = spec.charsmap.length > 0 ? new CharsMap(spec.charsmap) : null;
  }

  /** One normalisation step at `pos`: [replacement bytes, source bytes consumed]. */
  private prefix(s: Uint8Array, pos: number): [Uint8Array, number] {
    const end = s.length;
    if (this.matcher) {
      const n = this.matcher.match(s, pos, end);
      if (n > 0) return [s.subarray(pos, pos + n), n];
    }
    const rule = this.charsmap?.match(s, pos, end);
    if (rule) return [rule[1], rule[0]];
    const n = validCharLen(s, pos, end);
    return n === 0 ? [REPLACEMENT_BYTES, 1] : [s.subarray(pos, pos + n), n];
  }

  normalize(input: Uint8Array): Uint8Array {
    const spec = this.spec;
    let pos = 0;
    if (spec.removeExtraWhitespaces) {
      while (pos < input.length) {
        const [sp, n] = this.prefix(input, pos);
        if (!(sp.length === 1 && sp[0] === 0x20)) break;
        pos += n;
      }
    }
    if (pos >= input.length) return new Uint8Array(0);
    const out = new ByteWriter();
    const addWs = () => {
      if (spec.escapeWhitespaces) for (const b of SPACE_BYTES) out.push(b);
      else out.push(0x20);
    };
    if (!this.treatWhitespaceAsSuffix && spec.addDummyPrefix) addWs();
    let prevSpace = spec.removeExtraWhitespaces;
    while (pos < input.length) {
      const [sp, n] = this.prefix(input, pos);
      let i = 0;
      while (prevSpace && i < sp.length && sp[i] === 0x20) i++;
      if (i < sp.length) {
        for (; i < sp.length; i++) {
          if (spec.escapeWhitespaces && sp[i] === 0x20) for (const b of SPACE_BYTES) out.push(b);
          else out.push(sp[i]);
        }
        prevSpace = sp[sp.length - 1] === 0x20;
      }
      pos += n;
      if (!spec.removeExtraWhitespaces) prevSpace = false;
    }
    if (spec.removeExtraWhitespaces) {
      const space = spec.escapeWhitespaces ? SPACE_BYTES : [0x20];
      while (out.endsWith(space)) out.length -= space.length;
    }
    if (this.treatWhitespaceAsSuffix && spec.addDummyPrefix) addWs();
    return out.bytes();
  }
}
