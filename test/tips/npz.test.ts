import { readFileSync } from "node:fs";
import { deflateSync } from "fflate";
import { describe, expect, it } from "vitest";
import { NpzError, parseNpy, readNpz } from "../../src/tips/npz";
import { deflatedZeros, npy, zip } from "./npy";

// Made by numpy: np.savez(path, pos_embed=arange(12, f32).reshape(1,3,4)/7, blocks.0.ls1.gamma=[1.5,-2] f64,
// ids=[[1,2],[3,-4]] i32, temperature=0.004 f32 (0-d), half=[1,-0.5] f16); and np.savez_compressed.
const fixtures = ["small.npz", "small_compressed.npz"].map(
  (f) => new Uint8Array(readFileSync(`test/fixtures/${f}`)),
);

describe(".npz checkpoints", () => {
  for (const [i, bytes] of fixtures.entries()) {
    it(`reads every array with its shape and values (${i ? "compressed" : "stored"})`, () => {
      const a = readNpz(bytes);
      expect([...a.keys()].sort()).toEqual(["blocks.0.ls1.gamma", "half", "ids", "pos_embed", "temperature"]);
      const pos = a.get("pos_embed")!;
      expect(pos.shape).toEqual([1, 3, 4]);
      expect(pos.data[11]).toBe(Math.fround(11 / 7));
      expect([...a.get("blocks.0.ls1.gamma")!.data]).toEqual([1.5, -2]);
      expect(a.get("ids")!.dtype).toBe("I32");
      expect([...a.get("ids")!.data]).toEqual([1, 2, 3, -4]);
      expect(a.get("temperature")!.shape).toEqual([]);
      expect(a.get("temperature")!.data[0]).toBe(Math.fround(0.004));
      expect([...a.get("half")!.data]).toEqual([1, -0.5]);
    });
  }

  it("refuses files that are not .npz or hold a broken array", () => {
    expect(() => readNpz(new Uint8Array([1, 2, 3, 4]))).toThrow(NpzError);
    expect(() => readNpz(fixtures[0].subarray(0, 200))).toThrow(/not a valid .npz/);
    expect(() => parseNpy(new Uint8Array(20), "x")).toThrow(/x: not a .npy array/);
    const npy = new Uint8Array(readNpzRaw());
    expect(() => parseNpy(npy.subarray(0, npy.length - 4), "pos_embed")).toThrow(/pos_embed: truncated data/);
  });
});

describe(".npz files that lie", () => {
  // A 1.7 MB deflate stream of a .npy header for 4 floats followed by 256 MiB of zeros.
  const header4 = npy("<f4", [4], new Uint8Array(0));
  const zeros = 256 * 2 ** 20;
  const bomb = deflatedZeros(header4, zeros);

  it("stops inflating an entry that inflates past its declared size, with memory bounded", () => {
    const file = zip([{ name: "bomb.npy", data: bomb, method: 8, size: header4.length + 16 }]);
    const before = process.memoryUsage().arrayBuffers;
    expect(() => readNpz(file)).toThrow(/bomb: more data than its header says/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * 2 ** 20);
  });

  it("refuses entries and files over the caps before inflating them", () => {
    // The size declared honestly this time: refused by the cap without inflating anything.
    const big = zip([{ name: "big.npy", data: bomb, method: 8, size: header4.length + zeros }]);
    const before = process.memoryUsage().arrayBuffers;
    expect(() => readNpz(big, { entryBytes: 2 ** 26, totalBytes: 2 ** 40 })).toThrow(
      /big: \d+ bytes is more than the 67108864 an array may have/,
    );
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(2 ** 20);
    const two = ["a", "b"].map((name) => {
      const data = npy("<f4", [256], new Uint8Array(1024));
      return { name: `${name}.npy`, data, method: 0 as const, size: data.length };
    });
    expect(() => readNpz(zip(two), { entryBytes: 2000, totalBytes: 2000 })).toThrow(
      /add up to more than 2000 bytes/,
    );
    expect(readNpz(zip(two), { entryBytes: 2000, totalBytes: 4000 }).size).toBe(2);
  });

  it("refuses an entry whose .npy header disagrees with its declared size", () => {
    const data = npy("<f4", [1000], new Uint8Array(4000));
    const withSize = (size: number) =>
      zip([{ name: "a.npy", data: data.subarray(0, size), method: 0, size }]);
    expect(() => readNpz(withSize(500))).toThrow(
      /a: truncated data: 1000 values of <f4 do not fit in 500 bytes/,
    );
    const longer = zip([
      { name: "a.npy", data: new Uint8Array([...data, 0, 0, 0, 0]), method: 0, size: data.length + 4 },
    ]);
    expect(() => readNpz(longer)).toThrow(/a: 4 bytes after its 1000 values/);
  });

  it("skips entries that are not .npy arrays, stored or deflated", () => {
    const text = new TextEncoder().encode("not an array ".repeat(100));
    const a = npy("<f4", [2], new Uint8Array(8));
    for (const method of [0, 8] as const) {
      const pack = (data: Uint8Array) => (method === 8 ? deflateSync(data) : data);
      const file = zip([
        { name: "readme.txt", data: pack(text), method, size: text.length },
        { name: "a.npy", data: pack(a), method, size: a.length },
      ]);
      expect([...readNpz(file).keys()]).toEqual(["a"]);
    }
  });

  it("returns each array in a buffer of its own size (no second copy of the file's data)", () => {
    const a = readNpz(fixtures[1]).get("pos_embed")!;
    expect(a.data.buffer.byteLength).toBe(12 * 4);
  });
});

/** The stored .npy bytes of pos_embed inside the uncompressed fixture (zip entries are stored as is). */
function readNpzRaw(): Uint8Array {
  const bytes = fixtures[0];
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  for (let i = 0; i < bytes.length; i++) {
    if (magic.every((m, j) => bytes[i + j] === m)) {
      const header = new TextDecoder().decode(bytes.subarray(i, i + 128));
      if (header.includes("(1, 3, 4)")) return bytes.subarray(i, i + 128 + 48);
    }
  }
  throw new Error("fixture has no pos_embed array");
}
