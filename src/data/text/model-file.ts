// The SentencePiece model file (tokenizer.model): a serialized protobuf ModelProto
// (google/sentencepiece, src/sentencepiece_model.proto), read with a minimal wire-format reader.

export enum PieceType {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
}

export interface NormalizerSpec {
  charsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export interface ModelProto {
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

export class ModelFileError extends Error {
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

export function parseModelProto(buf: Uint8Array): ModelProto {
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
