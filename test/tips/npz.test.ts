import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { NpzError, parseNpy, readNpz } from "../../src/tips/npz";

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
