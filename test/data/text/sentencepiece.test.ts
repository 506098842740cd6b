// The SentencePiece tokenizer against the Python sentencepiece library: test/fixtures/
// sentencepiece/make.py trained the two models and recorded the library's ids for ~200 strings.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { loadTokenizer, SentencePiece, TIPS_TEXT_LENGTH } from "../../../src/data/text/sentencepiece";
import { Vocabulary } from "../../../src/data/text/vocab";

const dir = new URL("../../fixtures/sentencepiece/", import.meta.url);
const read = (name: string) => new Uint8Array(readFileSync(new URL(name, dir)));

interface Case {
  text: string;
  ids: number[];
  decoded?: string;
  tips?: number[];
}
const fixtures = JSON.parse(gunzipSync(read("cases.json.gz")).toString("utf8")) as {
  max_len: number;
  models: Record<string, { size: number; cases: Case[] }>;
};

/** What the official TIPS tokenizer gives where make.py left `tips` out: the ids cut or padded. */
function tipsRow(c: Case): number[] {
  return c.tips ?? [...c.ids, ...new Array(TIPS_TEXT_LENGTH).fill(0)].slice(0, TIPS_TEXT_LENGTH);
}

describe.each(["unigram", "bpe"])("SentencePiece %s model", (name) => {
  const sp = SentencePiece.fromBytes(read(`${name}.model`));
  const { size, cases } = fixtures.models[name];

  it("reads the model", () => {
    expect(sp.modelType).toBe(name);
    expect(sp.size).toBe(size);
    expect(cases.length).toBeGreaterThanOrEqual(200);
    expect(fixtures.max_len).toBe(TIPS_TEXT_LENGTH);
  });

  it("encodes every string to the Python library's ids", () => {
    const wrong = cases
      .map((c) => ({ text: c.text, want: c.ids, got: sp.encodeIds(c.text) }))
      .filter((r) => JSON.stringify(r.got) !== JSON.stringify(r.want));
    expect(wrong.slice(0, 3)).toEqual([]);
  });

  it("decodes every id list to the Python library's text", () => {
    const wrong = cases
      .map((c) => ({ ids: c.ids, want: c.decoded ?? c.text, got: sp.decodeIds(c.ids) }))
      .filter((r) => r.got !== r.want);
    expect(wrong.slice(0, 3)).toEqual([]);
  });

  it("makes the official TIPS rows: ASCII lowercasing, no BOS/EOS, cut to 64, padded with 0", () => {
    const { ids, lengths } = sp.encode(
      cases.map((c) => c.text),
      TIPS_TEXT_LENGTH,
    );
    expect(ids).toBeInstanceOf(Int32Array);
    expect(ids.length).toBe(cases.length * TIPS_TEXT_LENGTH);
    const wrong = cases
      .map((c, i) => ({
        text: c.text,
        want: tipsRow(c),
        got: [...ids.subarray(i * TIPS_TEXT_LENGTH, (i + 1) * TIPS_TEXT_LENGTH)],
      }))
      .filter((r) => JSON.stringify(r.got) !== JSON.stringify(r.want));
    expect(wrong.slice(0, 3)).toEqual([]);
    // Neither model ever emits id 0 (a control piece in one, unknown with byte fallback in the other).
    cases.forEach((c, i) => {
      expect(lengths[i]).toBe(tipsRow(c).filter((id) => id !== 0).length);
    });
    // Some strings are longer than 64 tokens, and some have capitals that only ASCII lowercasing touches.
    expect(cases.some((c) => c.ids.length > TIPS_TEXT_LENGTH)).toBe(true);
    expect(sp.encode(["ÉCOLE"], 8).ids).toEqual(sp.encode(["École"], 8).ids);
    expect(sp.encode(["ÉCOLE"], 8).ids).not.toEqual(sp.encode(["école"], 8).ids);
  });

  it("decode gives padded rows back as text", () => {
    const texts = ["a small red circle in the center", "two big blue squares", ""];
    const { ids } = sp.encode(texts, 16);
    texts.forEach((t, i) => {
      expect(sp.decode(ids.subarray(i * 16, (i + 1) * 16))).toBe(t);
    });
    expect(() => sp.decodeIds([sp.size])).toThrow(/out of range/);
    expect(() => sp.decodeIds([-1])).toThrow(/out of range/);
  });

  it("treats a lone surrogate like U+FFFD (what TextEncoder makes of it)", () => {
    expect(sp.encodeIds("a\ud800b")).toEqual(sp.encodeIds("a\ufffdb"));
  });
});

describe("SentencePiece model file errors", () => {
  const good = read("unigram.model");
  const expectError = (bytes: Uint8Array, problem: RegExp) => {
    expect(() => SentencePiece.fromBytes(bytes)).toThrow(problem);
    expect(() => SentencePiece.fromBytes(bytes)).toThrow(
      /not a SentencePiece model: .*expected a SentencePiece tokenizer\.model/,
    );
  };

  it("rejects an empty file", () => expectError(new Uint8Array(0), /the file is empty/));

  it("rejects random bytes", () => {
    let seed = 1;
    for (let n = 0; n < 20; n++) {
      const bytes = new Uint8Array(1 + ((n * 997) % 5000)).map(() => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return seed >>> 24;
      });
      expectError(bytes, /not a SentencePiece model/);
    }
  });

  it("rejects a truncated file, wherever it is cut", () => {
    for (const fraction of [0.001, 0.01, 0.1, 0.5, 0.9, 0.999]) {
      expectError(good.subarray(0, Math.floor(good.length * fraction)), /truncated|missing|broken/);
    }
    // Cut exactly after the pieces: the specs that follow are missing.
    const bpe = read("bpe.model");
    let end = 0;
    while (bpe[end] === 0x0a) end += 2 + bpe[end + 1]; // pieces are short: one-byte lengths
    expectError(bpe.subarray(0, end), /trainer spec is missing .*truncated/);
  });

  it("names other kinds of file", () => {
    expectError(new TextEncoder().encode('{"model": {"type": "Unigram"}}'), /JSON/);
    expectError(Uint8Array.of(0x50, 0x4b, 0x03, 0x04, 0, 0), /zip archive/);
    expectError(Uint8Array.of(0x1f, 0x8b, 8, 0), /gzip/);
  });
});

describe("loadTokenizer", () => {
  it("reads a tokenizer.model", () => {
    const tok = loadTokenizer(read("unigram.model"));
    expect(tok).toBeInstanceOf(SentencePiece);
    expect(tok.size).toBe(fixtures.models.unigram.size);
    expect(tok.decode(tok.encode(["A red circle"], 8).ids)).toBe("a red circle");
  });

  it("reads a saved word vocabulary", () => {
    const v = Vocabulary.build(["a red circle", "a blue square"], 10);
    const tok = loadTokenizer(new TextEncoder().encode(JSON.stringify(v.toJSON())));
    expect(tok).toBeInstanceOf(Vocabulary);
    expect([...tok.encode(["A red square"], 4).ids]).toEqual([...v.encode(["a red square"], 4).ids]);
  });

  it("explains what it cannot read", () => {
    expect(() => loadTokenizer(new TextEncoder().encode('{"version": "1.0", "model": {}}'))).toThrow(
      /not a saved word vocabulary.*tokenizer\.model/,
    );
    expect(() => loadTokenizer(new TextEncoder().encode("{oops"))).toThrow(
      /neither a tokenizer\.model nor valid JSON/,
    );
    expect(() => loadTokenizer(Uint8Array.of(1, 2, 3))).toThrow(/not a SentencePiece model/);
  });
});
