// Seeded random numbers (xoshiro128**, seeded by splitmix32). The state is four u32 words, so a
// checkpoint can store it and a resumed run draws the same numbers.

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  private s: Uint32Array;

  constructor(seed: number | Uint32Array = 0) {
    if (typeof seed === "number") {
      const next = splitmix32(seed);
      this.s = new Uint32Array([next(), next(), next(), next()]);
    } else this.s = Uint32Array.from(seed);
  }

  /** Uniform u32. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** n values from N(0, std^2), truncated at +-2 std as ViT init does. */
  truncNormal(n: number, std: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let x = this.normal();
      while (Math.abs(x) > 2) x = this.normal();
      out[i] = x * std;
    }
    return out;
  }

  uniformArray(n: number, lo = 0, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }

  /** An independent generator derived from this one (e.g. one per data worker). */
  fork(): Rng {
    return new Rng(this.nextU32());
  }

  get state(): Uint32Array {
    return Uint32Array.from(this.s);
  }

  set state(s: Uint32Array) {
    this.s = Uint32Array.from(s);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
