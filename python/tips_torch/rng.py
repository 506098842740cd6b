"""The engine's seeded generator (src/tensor/rng.ts: xoshiro128**, seeded by splitmix32), so that
crops, masks and the data order are drawn as `tips train` draws them, and its state (four u32
words) is the one checkpoints store."""
import math

M32 = 0xFFFFFFFF


def _rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


class Rng:
    def __init__(self, seed=0):
        if isinstance(seed, int):
            s = seed & M32
            words = []
            for _ in range(4):
                s = (s + 0x9E3779B9) & M32
                z = s
                z = ((z ^ (z >> 16)) * 0x85EBCA6B) & M32
                z = ((z ^ (z >> 13)) * 0xC2B2AE35) & M32
                words.append((z ^ (z >> 16)) & M32)
            self.s = words
        else:
            self.s = [int(w) & M32 for w in seed]

    def next_u32(self):
        s = self.s
        result = (_rotl((s[1] * 5) & M32, 7) * 9) & M32
        t = (s[1] << 9) & M32
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 11)
        return result

    def uniform(self):
        return self.next_u32() / 4294967296

    def int(self, n):
        return math.floor(self.uniform() * n)

    def fork(self):
        return Rng(self.next_u32())

    @property
    def state(self):
        return list(self.s)

    @state.setter
    def state(self, words):
        self.s = [int(w) & M32 for w in words]


def js_round(x):
    """JavaScript's Math.round: halves go up."""
    return math.floor(x + 0.5)
