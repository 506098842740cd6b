// Property-based fuzzing of what reads files a user hands us: the tar reader (shard groups), the
// .safetensors and .npz readers and the config validator. Each gets thousands of generated
// inputs, valid ones and mutated ones (truncations, bit flips, overwritten bytes, lying lengths
// and counts). Valid inputs are always accepted; any other input is refused with the reader's own
// error (the tar reader never throws: damage ends the shard with a reason), within 2 s, with
// memory growth under 16 MiB plus 4 times the input's size. The seed is printed; FUZZ_SEED=<seed>
// repeats a run.
import fc from "fast-check";
import { deflateSync } from "fflate";
import { packTar } from "modern-tar";
import { describe, expect, it } from "vitest";
import { type ShardFailure, ShardGroups } from "../../src/data/webdataset/groups";
import {
  decodeSafetensors,
  encodeSafetensors,
  SafetensorsError,
  type StoredTensor,
} from "../../src/tensor/safetensors";
import { ConfigError, PRESETS, preset, validateConfig } from "../../src/tips/config";
import { NpzError, readNpz } from "../../src/tips/npz";
import { parameterCount } from "../../src/train/fits";
import { npy, zip } from "../tips/npy";

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const MAX_MS = 2000;
const NPZ_CAPS = { entryBytes: 2 ** 20, totalBytes: 4 * 2 ** 20 };

function run<T>(name: string, numRuns: number, property: fc.IProperty<T> | fc.IAsyncProperty<T>) {
  console.log(`fuzz ${name}: ${numRuns} cases, seed ${SEED} (FUZZ_SEED=${SEED} repeats them)`);
  return fc.assert(property as fc.IAsyncProperty<T>, { numRuns, seed: SEED });
}

/** Runs `read` on `input`: its result, or the error it threw; checks time and memory growth. */
function bounded<R>(input: Uint8Array, read: () => R): R | Error {
  const memory = process.memoryUsage().arrayBuffers;
  const start = performance.now();
  let result: R | Error;
  try {
    result = read();
  } catch (err) {
    result = err as Error;
  }
  expect(performance.now() - start).toBeLessThan(MAX_MS);
  expect(process.memoryUsage().arrayBuffers - memory).toBeLessThan(16 * 2 ** 20 + 4 * input.length);
  return result;
}

// ---- Mutations shared by the binary formats ----

type Mutation = (bytes: Uint8Array) => Uint8Array;

const truncation: fc.Arbitrary<Mutation> = fc
  .double({ min: 0, max: 1, noNaN: true })
  .map((f) => (b) => b.subarray(0, Math.floor(f * b.length)));

const bitFlips: fc.Arbitrary<Mutation> = fc
  .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 })
  .map((flips) => (b) => {
    const out = b.slice();
    for (const [at, bit] of flips) if (out.length) out[at % out.length] ^= 1 << bit;
    return out;
  });

const overwrite: fc.Arbitrary<Mutation> = fc
  .tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }))
  .map(([at, bytes]) => (b) => {
    const out = b.slice();
    if (out.length) out.set(bytes.subarray(0, Math.max(0, out.length - (at % out.length))), at % out.length);
    return out;
  });

/** A number that a lying header might hold: small, near a power of two, or huge. */
const lyingNumber = fc.oneof(
  fc.integer({ min: -2, max: 4096 }),
  fc.integer({ min: 0, max: 62 }).map((e) => 2 ** e),
  fc.integer({ min: 0, max: 62 }).map((e) => 2 ** e - 1),
  fc.constantFrom(-1, 0.5, Number.MAX_SAFE_INTEGER, 2 ** 64, 1e300),
);

// ---- .safetensors ----

const DTYPES = ["F32", "I32", "U32"] as const;

const storedTensor: fc.Arbitrary<StoredTensor> = fc
  .tuple(fc.constantFrom(...DTYPES), fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }))
  .chain(([dtype, shape]) => {
    const count = shape.reduce((a, b) => a * b, 1);
    return fc.uint8Array({ minLength: 4 * count, maxLength: 4 * count }).map((bytes) => {
      const data =
        dtype === "F32"
          ? new Float32Array(bytes.buffer)
          : dtype === "I32"
            ? new Int32Array(bytes.buffer)
            : new Uint32Array(bytes.buffer);
      return { dtype, shape, data };
    });
  });

const safetensorsFile = fc.record({
  tensors: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), storedTensor, { maxKeys: 5 }),
  metadata: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
});

/** Rewrites one header entry's field (or the metadata, or the header length) with a lie. */
const safetensorsLie: fc.Arbitrary<Mutation> = fc
  .tuple(
    fc.nat(),
    fc.constantFrom("dtype", "shape", "data_offsets", "__metadata__", "length"),
    fc.oneof(
      fc.constantFrom("F16", "BF16", "F64", "I64", "BOOL", "Q8", null),
      fc.array(lyingNumber, { maxLength: 4 }),
      fc.jsonValue(),
    ),
    lyingNumber,
  )
  .map(([pick, field, value, length]) => (b) => {
    const n = Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));
    if (field === "length") {
      const out = b.slice();
      new DataView(out.buffer).setBigUint64(
        0,
        BigInt(Math.floor(Math.max(0, Math.min(length, 2 ** 63)))),
        true,
      );
      return out;
    }
    const header = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)));
    const names = Object.keys(header).filter((k) => k !== "__metadata__");
    if (field === "__metadata__") header.__metadata__ = value;
    else if (names.length) header[names[pick % names.length]][field] = value;
    const json = new TextEncoder().encode(JSON.stringify(header));
    const data = b.subarray(8 + n);
    const out = new Uint8Array(8 + json.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(data, 8 + json.length);
    return out;
  });

// ---- .npz ----

const NPY_DTYPES: Record<string, number> = {
  "<f4": 4,
  "<i4": 4,
  "<u4": 4,
  "<f8": 8,
  "<f2": 2,
  "<i8": 8,
  "|u1": 1,
};

interface NpyArray {
  name: string;
  descr: string;
  shape: number[];
  body: Uint8Array;
}

const npyArray: fc.Arbitrary<NpyArray> = fc
  .tuple(
    fc.stringMatching(/^[a-z][a-z0-9_.]{0,10}$/),
    fc.constantFrom(...Object.keys(NPY_DTYPES)),
    fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
  )
  .chain(([name, descr, shape]) => {
    const bytes = shape.reduce((a, b) => a * b, 1) * NPY_DTYPES[descr];
    return fc
      .uint8Array({ minLength: bytes, maxLength: bytes })
      .map((body) => ({ name, descr, shape, body }));
  });

const npzFile = fc
  .tuple(
    fc.uniqueArray(npyArray, { minLength: 1, maxLength: 4, selector: (a) => a.name }),
    fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  )
  .map(([arrays, deflate]) => ({
    arrays,
    bytes: zip(
      arrays.map((a, i) => {
        const data = npy(a.descr, a.shape, a.body);
        return deflate[i]
          ? { name: `${a.name}.npy`, data: deflateRaw(data), method: 8 as const, size: data.length }
          : { name: `${a.name}.npy`, data, method: 0 as const, size: data.length };
      }),
    ),
  }));

function deflateRaw(data: Uint8Array): Uint8Array {
  return deflateSync(data, { level: 6 });
}

/** Overwrites a declared size (compressed or not) in one local or central zip header with a lie. */
const npzLie: fc.Arbitrary<Mutation> = fc
  .tuple(fc.nat(), fc.boolean(), lyingNumber)
  .map(([pick, local, lie]) => (b) => {
    const signature = local ? 0x04034b50 : 0x02014b50;
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const headers: number[] = [];
    for (let i = 0; i + 30 <= b.length; i++) if (view.getUint32(i, true) === signature) headers.push(i);
    if (!headers.length) return b;
    const out = b.slice();
    const at = headers[pick % headers.length] + (local ? [18, 22] : [20, 24])[pick % 2];
    new DataView(out.buffer).setUint32(at, Math.max(0, Math.min(lie, 2 ** 32 - 1)), true);
    return out;
  });

// ---- tar shards ----

const tarFile = fc
  .array(
    fc.tuple(
      fc.integer({ min: 0, max: 9 }),
      fc.constantFrom("jpg", "txt", "json", "syn.txt", "png"),
      fc.uint8Array({ maxLength: 1500 }),
    ),
    { maxLength: 8 },
  )
  .chain((entries) =>
    fc.constant(
      entries.map(([key, ext, body]) => ({ name: `${String(key).padStart(4, "0")}.${ext}`, body })),
    ),
  );

async function packed(entries: { name: string; body: Uint8Array }[]): Promise<Uint8Array> {
  return packTar(
    entries.map((e) => ({ header: { name: e.name, size: e.body.length, mtime: new Date(0) }, body: e.body })),
  );
}

/** Rewrites one entry's size (octal, checksum recomputed, as a lying writer would) in a tar. */
const tarLie: fc.Arbitrary<Mutation> = fc.tuple(fc.nat(), lyingNumber).map(([pick, lie]) => (b) => {
  const headers: number[] = [];
  for (let at = 0; at + 512 <= b.length; ) {
    if (b[at] === 0) break;
    headers.push(at);
    const size = Number.parseInt(
      new TextDecoder().decode(b.subarray(at + 124, at + 136)).replace(/\0.*$/, ""),
      8,
    );
    at += 512 + Math.ceil(size / 512) * 512;
  }
  if (!headers.length) return b;
  const out = b.slice();
  const at = headers[pick % headers.length];
  const octal = Math.max(0, Math.min(Math.floor(lie), 8 ** 11 - 1))
    .toString(8)
    .padStart(11, "0");
  out.set(new TextEncoder().encode(`${octal}\0`), at + 124);
  out.fill(0x20, at + 148, at + 156);
  const sum = out.subarray(at, at + 512).reduce((a, v) => a + v, 0);
  out.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, "0")}\0 `), at + 148);
  return out;
});

/** A tar as a stream in chunks of the given sizes (cycled). */
function chunked(bytes: Uint8Array, sizes: number[]): ReadableStream<Uint8Array> {
  let at = 0;
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      const n = sizes[i++ % sizes.length];
      controller.enqueue(bytes.slice(at, at + n));
      at += n;
    },
  });
}

/** Every group of a shard, and why it ended; each call to next() within the time limit. */
async function readShard(
  stream: ReadableStream<Uint8Array>,
): Promise<{ keys: string[]; failure: ShardFailure | null }> {
  const groups = new ShardGroups(stream, 1 << 20);
  const keys: string[] = [];
  for (;;) {
    const start = performance.now();
    const group = await groups.next();
    expect(performance.now() - start).toBeLessThan(MAX_MS);
    if (!group) break;
    keys.push(group.key);
  }
  return { keys, failure: groups.failure };
}

// ---- configs ----

const PATHS = Object.entries(preset("tips-test")).flatMap(([part, v]) =>
  typeof v === "object" ? Object.keys(v).map((k) => [part, k]) : [[part]],
);

const configValue = fc.oneof(
  lyingNumber,
  fc.double(),
  fc.string({ maxLength: 6 }),
  fc.jsonValue(),
  fc.constant(undefined),
);

const mutatedConfig = fc
  .tuple(
    fc.constantFrom(...Object.keys(PRESETS)),
    fc.array(fc.tuple(fc.constantFrom(...PATHS), configValue), { minLength: 1, maxLength: 3 }),
  )
  .map(([name, edits]) => {
    const c = preset(name) as unknown as Record<string, Record<string, unknown>>;
    for (const [[part, key], value] of edits) {
      if (key === undefined) (c as Record<string, unknown>)[part] = value;
      else if (typeof c[part] === "object" && c[part] !== null) c[part][key] = value;
    }
    return c;
  });

describe("fuzzing", () => {
  it(".safetensors: valid files are read back exactly; mutated ones refused with SafetensorsError", () => {
    run(
      "safetensors",
      5000,
      fc.property(
        safetensorsFile,
        fc.oneof(truncation, bitFlips, overwrite, safetensorsLie, safetensorsLie),
        (file, mutate) => {
          const valid = encodeSafetensors(file.tensors, file.metadata);
          const read = bounded(valid, () => decodeSafetensors(valid));
          if (read instanceof Error) throw read;
          expect([...read.tensors.keys()].sort()).toEqual(Object.keys(file.tensors).sort());
          for (const [name, t] of Object.entries(file.tensors)) {
            expect(read.tensors.get(name)?.shape).toEqual(t.shape);
            expect(read.tensors.get(name)?.data).toEqual(t.data);
          }
          const bad = mutate(valid);
          const result = bounded(bad, () => decodeSafetensors(bad));
          if (result instanceof Error) expect(result).toBeInstanceOf(SafetensorsError);
        },
      ),
    );
  });

  it(".npz: valid files are read back; mutated and lying ones refused with NpzError", () => {
    run(
      "npz",
      3000,
      fc.property(
        npzFile,
        fc.oneof(truncation, bitFlips, overwrite, npzLie, npzLie),
        ({ arrays, bytes }, mutate) => {
          const read = bounded(bytes, () => readNpz(bytes, NPZ_CAPS));
          if (read instanceof Error) throw read;
          for (const a of arrays) {
            const t = read.get(a.name);
            expect(t?.shape).toEqual(a.shape);
            if (a.descr === "<f4" || a.descr === "<i4" || a.descr === "<u4")
              expect(new Uint8Array(t!.data.buffer)).toEqual(a.body);
          }
          const bad = mutate(bytes);
          const result = bounded(bad, () => readNpz(bad, NPZ_CAPS));
          if (result instanceof Error) expect(result, result.stack).toBeInstanceOf(NpzError);
        },
      ),
    );
  });

  it("tar shards: valid ones give every group; damaged and lying ones end with a reason, never a throw", async () => {
    await run(
      "tar",
      2000,
      fc.asyncProperty(
        tarFile,
        fc.oneof(truncation, bitFlips, overwrite, tarLie, tarLie),
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 4 }),
        async (entries, mutate, chunks) => {
          const valid = await packed(entries);
          const good = await readShard(chunked(valid, chunks));
          expect(good.failure).toBeNull();
          const keys = entries
            .map((e) => e.name.slice(0, 4))
            .filter((k, i, all) => i === 0 || all[i - 1] !== k);
          expect(good.keys).toEqual(keys);
          const bad = await readShard(chunked(mutate(valid), chunks));
          expect(bad.keys.length).toBeLessThanOrEqual(entries.length);
        },
      ),
    );
  }, 120_000);

  it("configs: presets pass; mutated ones pass only when every size is sane, or throw ConfigError", () => {
    run(
      "config",
      10000,
      fc.property(mutatedConfig, (c) => {
        let accepted = true;
        try {
          validateConfig(c as never);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          accepted = false;
        }
        if (!accepted) return;
        const config = c as never as ReturnType<typeof preset>;
        for (const part of [config.vision, config.text]) {
          for (const key of ["width", "depth", "heads", "mlpHidden"] as const)
            expect(Number.isInteger(part[key]) && part[key] >= 1 && part[key] <= 65536).toBe(true);
          expect(part.width % part.heads).toBe(0);
        }
        expect(Number.isFinite(parameterCount(config))).toBe(true);
      }),
    );
  });
});
