"""The word-level vocabulary of src/data/text/vocab.ts (saved with checkpoints as {"type": "words"}):
lowercased words and single punctuation marks, right-padded with 0, unknown words 1."""
import re
from collections import Counter

import torch

PAD_ID, UNK_ID = 0, 1
SPECIALS = ["<pad>", "<unk>"]
# [\p{L}\p{N}]+ | [^\s\p{L}\p{N}] with Python's re: \w less the underscore, and the rest.
_WORDS = re.compile(r"[^\W_]+|[^\s\w]|_")


def split_words(text):
    return _WORDS.findall(text.lower())


class Vocabulary:
    def __init__(self, words):
        if list(words[:2]) != SPECIALS:
            raise ValueError(f"vocabulary must start with {', '.join(SPECIALS)}; got {', '.join(words[:2])}")
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("vocabulary has duplicate words")

    @staticmethod
    def build(captions, max_size):
        counts = Counter(w for c in captions for w in split_words(c))
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max(0, max_size - len(SPECIALS))]
        return Vocabulary(SPECIALS + [w for w, _ in ranked])

    def encode(self, texts, length):
        """[len(texts), length] int64 token ids."""
        ids = torch.zeros(len(texts), length, dtype=torch.long)
        for i, text in enumerate(texts):
            for j, w in enumerate(split_words(text)[:length]):
                ids[i, j] = self.index.get(w, UNK_ID)
        return ids

    def to_json(self):
        return {"type": "words", "words": self.words}

    @staticmethod
    def from_json(j):
        if not isinstance(j, dict) or j.get("type") != "words" or not isinstance(j.get("words"), list):
            raise ValueError('not a saved vocabulary: expected {"type": "words", "words": [...]}')
        return Vocabulary(j["words"])
