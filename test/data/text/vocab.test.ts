import { describe, expect, it } from "vitest";
import { PAD_ID, splitWords, UNK_ID, Vocabulary } from "../../../src/data/text/vocab";

describe("Vocabulary", () => {
  const captions = ["A red circle, left of a Blue square.", "a red star", "Photo 1234"];

  it("lowercases and splits words and punctuation", () => {
    expect(splitWords("A red circle, left of a Blue-ish square.")).toEqual([
      "a",
      "red",
      "circle",
      ",",
      "left",
      "of",
      "a",
      "blue",
      "-",
      "ish",
      "square",
      ".",
    ]);
    expect(splitWords("Café 3d")).toEqual(["café", "3d"]);
  });

  it("keeps the most frequent words, deterministically", () => {
    const v = Vocabulary.build(captions, 5);
    expect(v.words).toEqual(["<pad>", "<unk>", "a", "red", ","]);
    expect(Vocabulary.build([...captions].reverse(), 5).words).toEqual(v.words);
  });

  it("encodes with right padding and truncation, unknown words as <unk>", () => {
    const v = Vocabulary.build(captions, 100);
    const { ids, lengths } = v.encode(["a red moon", "a red circle , left of a blue square ."], 4);
    expect([...lengths]).toEqual([3, 4]);
    expect(ids[2]).toBe(UNK_ID);
    expect(ids[3]).toBe(PAD_ID);
    expect(v.decode(ids.slice(4, 8))).toBe("a red circle ,");
  });

  it("round-trips through JSON and rejects anything else", () => {
    const v = Vocabulary.build(captions, 100);
    expect(Vocabulary.fromJSON(JSON.parse(JSON.stringify(v))).words).toEqual(v.words);
    expect(() => Vocabulary.fromJSON({ type: "bpe" })).toThrow(/not a saved vocabulary/);
    expect(() => new Vocabulary(["a", "b"])).toThrow(/must start with <pad>, <unk>/);
  });
});
