import { describe, expect, it } from "vitest";
import {
  decodeSafetensors,
  encodeSafetensors,
  SafetensorsError,
  type StoredTensor,
} from "../../src/tensor/safetensors";

const sample = {
  "blocks.0.attn.qkv.weight": {
    dtype: "F32" as const,
    shape: [2, 3],
    data: Float32Array.of(1.5, -2, Math.PI, 0, -0, 1e-30),
  },
  ids: { dtype: "I32" as const, shape: [3], data: Int32Array.of(-1, 0, 7) },
  empty: { dtype: "F32" as const, shape: [0, 4], data: new Float32Array(0) },
};

function header(bytes: Uint8Array): Record<string, unknown> {
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
}

function withHeader(h: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(h));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe("safetensors", () => {
  it("round-trips bit-exactly with metadata, and aligns the data to 8 bytes", () => {
    const bytes = encodeSafetensors(sample, { config: '{"preset":"tips-test"}' });
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata.config).toBe('{"preset":"tips-test"}');
    for (const [name, t] of Object.entries(sample)) {
      const got = tensors.get(name);
      expect(got?.shape).toEqual(t.shape);
      expect(new Uint8Array(got!.data.buffer)).toEqual(new Uint8Array(t.data.buffer));
    }
    expect(Object.is(tensors.get("blocks.0.attn.qkv.weight")!.data[4], -0)).toBe(true);
  });

  it("round-trips a tensor named __proto__ (found by fuzzing)", () => {
    const tensor: StoredTensor = { dtype: "F32", shape: [1], data: Float32Array.of(2) };
    const read = decodeSafetensors(encodeSafetensors(Object.fromEntries([["__proto__", tensor]])));
    expect([...read.tensors.keys()]).toEqual(["__proto__"]);
  });

  it("widens F16, BF16 and F64 to F32", () => {
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x3555]); // 1, -2, 0.333
    const bf16 = new Uint16Array([0x3f80, 0xc040]); // 1, -3
    const f64 = Float64Array.of(0.5, -0.25);
    const data = new Uint8Array(6 + 4 + 16);
    data.set(new Uint8Array(f16.buffer), 0);
    data.set(new Uint8Array(bf16.buffer), 6);
    data.set(new Uint8Array(f64.buffer), 10);
    const file = withHeader(
      {
        a: { dtype: "F16", shape: [3], data_offsets: [0, 6] },
        b: { dtype: "BF16", shape: [2], data_offsets: [6, 10] },
        c: { dtype: "F64", shape: [2], data_offsets: [10, 26] },
      },
      data,
    );
    const { tensors } = decodeSafetensors(file);
    expect([...tensors.get("a")!.data]).toEqual([1, -2, Math.fround(0.333251953125)]);
    expect([...tensors.get("b")!.data]).toEqual([1, -3]);
    expect([...tensors.get("c")!.data]).toEqual([0.5, -0.25]);
  });

  it("refuses truncated, malformed and inconsistent files with a reason", () => {
    const good = encodeSafetensors(sample);
    const bad = (bytes: Uint8Array, why: RegExp) => {
      expect(() => decodeSafetensors(bytes)).toThrow(SafetensorsError);
      expect(() => decodeSafetensors(bytes)).toThrow(why);
    };
    bad(good.subarray(0, 5), /too short/);
    bad(good.subarray(0, 40), /header length .* does not fit/);
    bad(good.subarray(0, good.length - 3), /truncated file|bytes for/);
    bad(withHeader("nope", new Uint8Array()), /not a JSON object/);
    const corrupt = good.slice();
    corrupt[10] = 0xff;
    bad(corrupt, /not UTF-8 JSON/);
    const h = header(good) as Record<string, { data_offsets: number[]; dtype: string }>;
    const data = good.subarray(good.length - 36);
    bad(withHeader({ ...h, ids: { ...h.ids, dtype: "Q8" } }, data), /unknown dtype Q8/);
    bad(withHeader({ ...h, ids: { ...h.ids, dtype: "I64" } }, data), /not supported/);
    bad(withHeader({ ...h, ids: { ...h.ids, data_offsets: [20, 32] } }, data), /overlap or gap/);
    bad(withHeader(h, new Uint8Array([...data, 0, 0, 0, 0])), /4 bytes after the last tensor/);
    // Headers that lie: sizes no file could hold, entries of the wrong type.
    bad(
      withHeader({ ...h, ids: { ...h.ids, shape: [2 ** 40, 2 ** 40] } }, data),
      /bytes for \[.*\] I32 values/,
    );
    bad(withHeader({ ...h, ids: { ...h.ids, data_offsets: [24, 2 ** 60] } }, data), /bad data_offsets/);
    bad(
      withHeader({ ...h, ids: { ...h.ids, shape: [1e9], data_offsets: [24, 24 + 4e9] } }, data),
      /truncated file/,
    );
    bad(withHeader({ ...h, ids: null }, data), /tensor ids is not a JSON object/);
    bad(withHeader({ ...h, __metadata__: ["x"] }, data), /__metadata__ is not a JSON object/);
    bad(withHeader({ ...h, ids: { ...h.ids, shape: [3.5] } }, data), /bad shape/);
    expect(() =>
      encodeSafetensors({ x: { dtype: "F32", shape: [2, 2], data: new Float32Array(3) } }),
    ).toThrow(/needs 4 values, has 3/);
  });
});
