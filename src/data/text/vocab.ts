// Word-level tokenizer for training from scratch: a vocabulary built from a dataset's captions
// and saved with the checkpoint. Text is handled as the official TIPS tokenizer handles it:
// lowercased, no BOS/EOS, right-padded with id 0 to a fixed length, truncated to that length.

export const PAD_ID = 0;
export const UNK_ID = 1;
const SPECIALS = ["<pad>", "<unk>"];

/** Lowercase words and single punctuation marks; digits stay inside words. */
export function splitWords(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? [];
}

export interface Encoded {
  /** [n, length] token ids, row-major; 0 is padding. */
  ids: Int32Array;
  /** Number of real tokens per text (at most length). */
  lengths: Int32Array;
}

export class Vocabulary {
  private index: Map<string, number>;

  constructor(readonly words: readonly string[]) {
    if (words[PAD_ID] !== SPECIALS[PAD_ID] || words[UNK_ID] !== SPECIALS[UNK_ID]) {
      throw new Error(
        `vocabulary must start with ${SPECIALS.join(", ")}; got ${words.slice(0, 2).join(", ")}`,
      );
    }
    this.index = new Map(words.map((w, i) => [w, i]));
    if (this.index.size !== words.length) throw new Error("vocabulary has duplicate words");
  }

  /** The `maxSize` most frequent words of the captions (ties broken alphabetically: deterministic). */
  static build(captions: Iterable<string>, maxSize: number, minCount = 1): Vocabulary {
    const counts = new Map<string, number>();
    for (const c of captions) for (const w of splitWords(c)) counts.set(w, (counts.get(w) ?? 0) + 1);
    const ranked = [...counts]
      .filter(([, n]) => n >= minCount)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, Math.max(0, maxSize - SPECIALS.length))
      .map(([w]) => w);
    return new Vocabulary([...SPECIALS, ...ranked]);
  }

  get size(): number {
    return this.words.length;
  }

  encode(texts: readonly string[], length: number): Encoded {
    const ids = new Int32Array(texts.length * length);
    const lengths = new Int32Array(texts.length);
    texts.forEach((text, i) => {
      const words = splitWords(text).slice(0, length);
      words.forEach((w, j) => {
        ids[i * length + j] = this.index.get(w) ?? UNK_ID;
      });
      lengths[i] = words.length;
    });
    return { ids, lengths };
  }

  decode(ids: ArrayLike<number>): string {
    const out: string[] = [];
    for (let i = 0; i < ids.length && ids[i] !== PAD_ID; i++)
      out.push(this.words[ids[i]] ?? SPECIALS[UNK_ID]);
    return out.join(" ");
  }

  toJSON(): { type: "words"; words: readonly string[] } {
    return { type: "words", words: this.words };
  }

  static fromJSON(json: unknown): Vocabulary {
    const j = json as { type?: unknown; words?: unknown };
    if (j?.type !== "words" || !Array.isArray(j.words) || !j.words.every((w) => typeof w === "string")) {
      throw new Error('not a saved vocabulary: expected {"type": "words", "words": [...]}');
    }
    return new Vocabulary(j.words as string[]);
  }
}
