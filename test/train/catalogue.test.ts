// The checkpoint catalogue over an in-memory stand-in for an IndexedDB object store (idb-keyval
// talks to it through requests and transactions as it would to IndexedDB): entries and bytes
// round-trip, a save that fails at any point leaves the previous version whole, orphans are swept.
import { readFileSync } from "node:fs";
import type { UseStore } from "idb-keyval";
import { describe, expect, it } from "vitest";
import { encodeSafetensors, SafetensorsError } from "../../src/tensor/safetensors";
import { preset } from "../../src/tips/config";
import { CheckpointCatalogue, exportFileName } from "../../src/train/catalogue";
import { CHECKPOINT_FORMAT, CheckpointError, WEIGHTS_FORMAT } from "../../src/train/checkpoint";

interface FakeRequest {
  result?: unknown;
  error?: unknown;
  onsuccess?: () => void;
  onerror?: () => void;
  oncomplete?: () => void;
  onabort?: () => void;
}

/** A key-value object store with transactions that commit whole or not at all. */
class MemoryStore {
  readonly data = new Map<IDBValidKey, unknown>();
  /** Makes a put of a matching key fail (as a full disk would) and abort its transaction. */
  failPut: ((key: IDBValidKey) => boolean) | null = null;

  readonly use: UseStore = (mode, callback) => {
    const staged = new Map(this.data);
    const tx: FakeRequest = {};
    let failed: unknown = null;
    const request = (run: () => unknown): FakeRequest => {
      const r: FakeRequest = {};
      setTimeout(() => {
        try {
          r.result = run();
          r.onsuccess?.();
        } catch (err) {
          r.error = err;
          failed ??= err;
          r.onerror?.();
        }
      });
      return r;
    };
    const store = {
      transaction: tx,
      get: (key: IDBValidKey) => request(() => structuredClone(staged.get(key))),
      put: (value: unknown, key: IDBValidKey) =>
        request(() => {
          if (this.failPut?.(key)) throw new DOMException("quota exceeded", "QuotaExceededError");
          staged.set(key, structuredClone(value));
        }),
      delete: (key: IDBValidKey) => request(() => staged.delete(key)),
      getAllKeys: () => request(() => [...staged.keys()]),
    };
    // Commits after the requests queued so far (and those they queue) have run.
    const commit = () =>
      setTimeout(() =>
        setTimeout(() => {
          if (failed) {
            tx.error = failed;
            tx.onabort?.();
            return;
          }
          if (mode === "readwrite") {
            this.data.clear();
            for (const [k, v] of staged) this.data.set(k, v);
          }
          tx.oncomplete?.();
        }),
      );
    const result = callback(store as unknown as IDBObjectStore);
    commit();
    return Promise.resolve(result);
  };
}

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

function checkpointFile(step: number, format = CHECKPOINT_FORMAT): Uint8Array {
  const config = preset("tips-test");
  return encodeSafetensors(
    { w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } },
    {
      format,
      config: JSON.stringify(config),
      options: JSON.stringify({ steps: 10, batch: 4, weights: { web: 1, syn: 1, dino: 1, mim: 1 } }),
      state: JSON.stringify({
        step,
        adamStep: step,
        rng: [1, 2, 3, 4],
        source: { kind: "scenes", next: 4 * step },
      }),
      tokenizer: JSON.stringify({ type: "words", words: ["<pad>", "<unk>", "a"] }),
      notes: JSON.stringify({ loss: { total: 5.5, web: 1, syn: 1, dino: 2, mim: 1.5 } }),
    },
  );
}

const TRAINED = new URL("../fixtures/trained/tips-test-80.safetensors", import.meta.url);
const info = { name: "run", preset: "tips-test", step: 3, steps: 10, losses: null };
const STORAGE_FULL =
  'the browser\'s storage is full: checkpoint "run" (step 5, 0.0 MB) was not saved and its previous save is ' +
  "kept; free space by exporting and deleting checkpoints on the Checkpoints page";

describe("CheckpointCatalogue", () => {
  it("saves, lists (newest first), reads, renames and removes", async () => {
    const mem = new MemoryStore();
    const cat = new CheckpointCatalogue(mem.use);
    const a = await cat.save(
      bytes(16, 1),
      { ...info, date: "2026-01-01T00:00:00.000Z" },
      { step: [1, 2, 3] },
    );
    const b = await cat.save(bytes(8, 2), { ...info, name: "other", date: "2026-01-02T00:00:00.000Z" });
    expect(a.size).toBe(16);
    expect((await cat.list()).map((e) => e.name)).toEqual(["other", "run"]);
    const got = await cat.get(a.id);
    expect(got.bytes).toEqual(bytes(16, 1));
    expect(got.history).toEqual({ step: [1, 2, 3] });
    expect((await cat.rename(a.id, "  renamed ")).name).toBe("renamed");
    await expect(cat.rename(a.id, "   ")).rejects.toThrow("needs a name");
    await cat.remove(b.id);
    expect((await cat.list()).map((e) => e.name)).toEqual(["renamed"]);
    expect([...mem.data.keys()].filter((k) => String(k).startsWith("bytes/"))).toEqual([a.key]);
    const use = await cat.storage();
    expect(use.checkpoints).toBe(16);
  });

  it("a new version of an entry keeps its id and replaces its bytes under a new key", async () => {
    const mem = new MemoryStore();
    const cat = new CheckpointCatalogue(mem.use);
    const first = await cat.save(bytes(4, 1), info);
    await new Promise((r) => setTimeout(r, 2)); // keys carry the time in ms
    const second = await cat.save(bytes(6, 2), { ...info, id: first.id, step: 5 });
    expect(second.id).toBe(first.id);
    expect(second.key).not.toBe(first.key);
    expect(await cat.list()).toHaveLength(1);
    expect((await cat.get(first.id)).bytes).toEqual(bytes(6, 2));
    expect(mem.data.has(first.key)).toBe(false);
  });

  it("a bytes write over the quota leaves the previous version whole and says so in one line", async () => {
    const mem = new MemoryStore();
    const cat = new CheckpointCatalogue(mem.use);
    const first = await cat.save(bytes(4, 1), info);
    mem.failPut = (key) => String(key).startsWith("bytes/");
    await expect(cat.save(bytes(6, 2), { ...info, id: first.id, step: 5 })).rejects.toThrow(STORAGE_FULL);
    mem.failPut = null;
    const [entry] = await cat.list();
    expect(entry).toEqual(first);
    expect((await cat.get(first.id)).bytes).toEqual(bytes(4, 1));
  });

  it("a failed catalogue update leaves the previous version whole and drops the new bytes", async () => {
    const mem = new MemoryStore();
    const cat = new CheckpointCatalogue(mem.use);
    const first = await cat.save(bytes(4, 1), info);
    mem.failPut = (key) => key === "catalogue";
    await expect(cat.save(bytes(6, 2), { ...info, id: first.id, step: 5 })).rejects.toThrow(STORAGE_FULL);
    mem.failPut = null;
    expect(await cat.list()).toEqual([first]);
    expect((await cat.get(first.id)).bytes).toEqual(bytes(4, 1));
    expect([...mem.data.keys()].filter((k) => String(k).startsWith("bytes/"))).toEqual([first.key]);
  });

  it("sweeps bytes no entry points at, once they are an hour old", async () => {
    const mem = new MemoryStore();
    const cat = new CheckpointCatalogue(mem.use);
    const kept = await cat.save(bytes(4, 1), info);
    const now = Date.now();
    mem.data.set(`bytes/lost/${now - 2 * 3600_000}`, { bytes: bytes(2, 0), history: null });
    mem.data.set(`bytes/saving/${now}`, { bytes: bytes(2, 0), history: null });
    expect(await cat.sweep(now)).toBe(1);
    expect([...mem.data.keys()].filter((k) => String(k).startsWith("bytes/")).sort()).toEqual(
      [kept.key, `bytes/saving/${now}`].sort(),
    );
  });

  it("imports a valid checkpoint file and refuses others, saving nothing", async () => {
    const mem = new MemoryStore();
    const cat = new CheckpointCatalogue(mem.use);
    // A real checkpoint: importing checks its config against the tensors it holds.
    const trained = new Uint8Array(readFileSync(TRAINED));
    const entry = await cat.import(trained, "from disk");
    expect(entry).toMatchObject({ name: "from disk", preset: "tips-test", step: 80, steps: 80 });
    expect(entry.losses?.total).toBeCloseTo(8.913, 3);
    // A header whose config needs tensors the file does not hold is refused.
    await expect(cat.import(checkpointFile(3), "x")).rejects.toThrow(/lacks encoder tensors/);

    await expect(cat.import(new TextEncoder().encode("not a checkpoint"), "x")).rejects.toThrow(
      SafetensorsError,
    );
    const whole = checkpointFile(3);
    await expect(cat.import(whole.subarray(0, whole.length - 4), "x")).rejects.toThrow(SafetensorsError);
    await expect(cat.import(checkpointFile(3, WEIGHTS_FORMAT), "x")).rejects.toThrow(/exported weights only/);
    await expect(cat.import(checkpointFile(3, "other"), "x")).rejects.toThrow(CheckpointError);
    expect(await cat.list()).toHaveLength(1);
    expect([...mem.data.keys()].filter((k) => String(k).startsWith("bytes/"))).toHaveLength(1);

    // The same file imported again gets a name of its own each time.
    expect((await cat.import(trained, "from disk")).name).toBe("from disk (2)");
    expect((await cat.import(trained, "from disk")).name).toBe("from disk (3)");
  });

  it("names export files after the entry", () => {
    expect(exportFileName({ name: "e2e run", step: 3 })).toBe("e2e-run.safetensors");
    expect(exportFileName({ name: "a/b: c.safetensors", step: 3 })).toBe("a-b-c.safetensors");
    expect(exportFileName({ name: "///", step: 7 })).toBe("checkpoint-step-7.safetensors");
    expect(exportFileName({ name: "e2e run", step: 3 }, "-curves.csv")).toBe("e2e-run-curves.csv");
  });
});
