// The browser's checkpoint store: checkpoint files (safetensors bytes, as saveCheckpoint writes
// them) and a catalogue describing them, in IndexedDB through idb-keyval. One object store holds
//   "catalogue"            CheckpointEntry[] (changed only inside idb-keyval's update transaction)
//   "bytes/<id>/<time>"    { bytes, history } of one save: a new key for every save
// A save writes the bytes under a new key first and only then points the catalogue entry at it,
// so a failure (quota, a closed tab) at any point leaves the previous checkpoint whole; the old
// bytes are deleted last. The trainer worker writes, the page reads; both may use this module.
import { createStore, del, get, keys, set, type UseStore, update } from "idb-keyval";
import type { LossValues } from "./trainer";

export interface CheckpointEntry {
  id: string;
  name: string;
  /** The model preset (config name). */
  preset: string;
  /** Steps taken when it was saved. */
  step: number;
  /** The run's planned length. */
  steps: number;
  /** The losses of the last step before the save (null if no step had reported). */
  losses: LossValues | null;
  /** ISO time of the save. */
  date: string;
  /** Bytes of the checkpoint file. */
  size: number;
  /** Where the bytes are stored (internal; changes with every save). */
  key: string;
}

/** Curves of a run so far, column-wise (e.g. step, total, web, lr); saved beside the bytes. */
export type MetricHistory = Record<string, (number | null)[]>;

interface StoredCheckpoint {
  bytes: Uint8Array;
  history: MetricHistory | null;
}

export interface StorageUse {
  /** Bytes of all catalogued checkpoints. */
  checkpoints: number;
  /** The origin's usage and quota (navigator.storage.estimate), when the browser reports them. */
  usage: number | null;
  quota: number | null;
  /** Whether the browser promised not to evict this origin's storage. */
  persisted: boolean | null;
}

const CATALOGUE = "catalogue";
const BYTES_PREFIX = "bytes/";
/** Bytes without an entry older than this are left over from a failed save and removed. */
const ORPHAN_AGE_MS = 60 * 60 * 1000;

function newId(): string {
  return (
    globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
  );
}

export class CheckpointCatalogue {
  constructor(private readonly store: UseStore = createStore("tips-webgpu", "checkpoints")) {}

  /** All entries, newest save first. */
  async list(): Promise<CheckpointEntry[]> {
    const list = (await get<CheckpointEntry[]>(CATALOGUE, this.store)) ?? [];
    return list.sort((a, b) => (a.date < b.date ? 1 : a.date > b.date ? -1 : 0));
  }

  async entry(id: string): Promise<CheckpointEntry | undefined> {
    return (await this.list()).find((e) => e.id === id);
  }

  /** The entry, its checkpoint bytes and the curves saved with it. */
  async get(
    id: string,
  ): Promise<{ entry: CheckpointEntry; bytes: Uint8Array; history: MetricHistory | null }> {
    const entry = await this.entry(id);
    if (!entry) throw new Error(`no checkpoint with id ${id} in this browser's storage`);
    const stored = await get<StoredCheckpoint>(entry.key, this.store);
    if (!stored) throw new Error(`the bytes of checkpoint "${entry.name}" are missing from storage`);
    return { entry, bytes: stored.bytes, history: stored.history };
  }

  /**
   * Stores a checkpoint: a new entry, or a new version of entry `id` (which keeps its id). The
   * bytes go under a new key first; the entry then points at them; the old bytes go last.
   */
  async save(
    bytes: Uint8Array,
    entry: Omit<CheckpointEntry, "id" | "key" | "size" | "date"> & { id?: string; date?: string },
    history: MetricHistory | null = null,
  ): Promise<CheckpointEntry> {
    const id = entry.id ?? newId();
    const key = `${BYTES_PREFIX}${id}/${Date.now()}`;
    const saved: CheckpointEntry = {
      ...entry,
      id,
      key,
      size: bytes.byteLength,
      date: entry.date ?? new Date().toISOString(),
    };
    try {
      await set(key, { bytes, history } satisfies StoredCheckpoint, this.store);
    } catch (err) {
      throw storageFull(err, saved);
    }
    let previous: string | undefined;
    try {
      await update<CheckpointEntry[]>(
        CATALOGUE,
        (list = []) => {
          const i = list.findIndex((e) => e.id === id);
          previous = i >= 0 ? list[i].key : undefined;
          if (i >= 0) list[i] = saved;
          else list.push(saved);
          return list;
        },
        this.store,
      );
    } catch (err) {
      await del(key, this.store).catch(() => {});
      throw storageFull(err, saved);
    }
    if (previous && previous !== key) await del(previous, this.store).catch(() => {});
    return saved;
  }

  async rename(id: string, name: string): Promise<CheckpointEntry> {
    const trimmed = name.trim();
    if (!trimmed) throw new Error("a checkpoint needs a name");
    let renamed: CheckpointEntry | undefined;
    await update<CheckpointEntry[]>(
      CATALOGUE,
      (list = []) =>
        list.map((e) => {
          if (e.id !== id) return e;
          renamed = { ...e, name: trimmed };
          return renamed;
        }),
      this.store,
    );
    if (!renamed) throw new Error(`no checkpoint with id ${id}`);
    return renamed;
  }

  /** Removes the entry first, then its bytes (a failure in between leaves unlisted bytes, not a broken entry). */
  async remove(id: string): Promise<void> {
    let key: string | undefined;
    await update<CheckpointEntry[]>(
      CATALOGUE,
      (list = []) =>
        list.filter((e) => {
          if (e.id === id) key = e.key;
          return e.id !== id;
        }),
      this.store,
    );
    if (key) await del(key, this.store);
  }

  /** Deletes bytes that no entry points at, left by a save that failed over an hour ago. */
  async sweep(now = Date.now()): Promise<number> {
    const listed = new Set((await this.list()).map((e) => e.key));
    let removed = 0;
    for (const k of await keys<IDBValidKey>(this.store)) {
      if (typeof k !== "string" || !k.startsWith(BYTES_PREFIX) || listed.has(k)) continue;
      const time = Number(k.slice(k.lastIndexOf("/") + 1));
      if (Number.isFinite(time) && now - time < ORPHAN_AGE_MS) continue; // maybe a save under way
      await del(k, this.store);
      removed++;
    }
    return removed;
  }

  async storage(): Promise<StorageUse> {
    const checkpoints = (await this.list()).reduce((n, e) => n + e.size, 0);
    const storage = (globalThis as { navigator?: Navigator }).navigator?.storage;
    const estimate = await storage?.estimate?.().catch(() => undefined);
    const persisted = (await storage?.persisted?.().catch(() => undefined)) ?? null;
    return { checkpoints, usage: estimate?.usage ?? null, quota: estimate?.quota ?? null, persisted };
  }

  /**
   * Validates a checkpoint file (readCheckpoint: the format, the model config, the trainer state,
   * the tokenizer) and stores it as a new entry. An invalid file throws a CheckpointError (or a
   * SafetensorsError) that says what is wrong, and nothing is saved. A name that another entry
   * has gets a number, so that two imports of one file can be told apart.
   */
  async import(bytes: Uint8Array, name: string): Promise<CheckpointEntry> {
    // Loaded on demand: the checkpoint code pulls in the whole engine, which a page that only
    // lists checkpoints does not need.
    const { readCheckpoint, CheckpointError } = await import("./checkpoint");
    const { info } = readCheckpoint(bytes);
    const state = info.state as Partial<typeof info.state> | undefined;
    if (!state || !Number.isInteger(state.step) || !Array.isArray(state.rng))
      throw new CheckpointError("the header's trainer state has no step or RNG state");
    const options = info.options as Partial<typeof info.options> | undefined;
    if (!options || !Number.isInteger(options.steps) || !options.weights)
      throw new CheckpointError("the header's trainer options are incomplete (steps, loss weights)");
    const tokenizer = info.tokenizer as { type?: unknown } | null;
    if (tokenizer?.type !== "words")
      throw new CheckpointError(
        "the checkpoint has no word vocabulary (a tokenizer this app can resume with)",
      );
    const loss = info.notes.loss as LossValues | null | undefined;
    const losses = typeof loss?.total === "number" ? loss : null;
    const taken = new Set((await this.list()).map((e) => e.name));
    return this.save(
      bytes,
      {
        name: uniqueName(name.trim() || `${info.config.name} step ${state.step}`, taken),
        preset: info.config.name,
        step: state.step as number,
        steps: options.steps as number,
        losses,
      },
      null,
    );
  }
}

/** `name`, or if an entry already has it, the first of "name (2)", "name (3)", ... that none has. */
function uniqueName(name: string, taken: Set<string>): string {
  if (!taken.has(name)) return name;
  let k = 2;
  while (taken.has(`${name} (${k})`)) k++;
  return `${name} (${k})`;
}

/** A quota error as one line that says what was kept and what to do; other errors as they are. */
function storageFull(err: unknown, entry: CheckpointEntry): unknown {
  const name = (err as { name?: unknown } | null)?.name;
  if (name !== "QuotaExceededError") return err;
  const mb = (entry.size / 2 ** 20).toFixed(1);
  return new Error(
    `the browser's storage is full: checkpoint "${entry.name}" (step ${entry.step}, ${mb} MB) was not saved ` +
      "and its previous save is kept; free space by exporting and deleting checkpoints on the Checkpoints page",
  );
}

/**
 * A file name for an entry's download: its name, made safe, then `ending` (the .safetensors
 * extension, or e.g. "-curves.csv" for another file of the same run).
 */
export function exportFileName(
  entry: Pick<CheckpointEntry, "name" | "step">,
  ending = ".safetensors",
): string {
  const base = entry.name
    .replace(/\.safetensors$/i, "")
    .replace(/[^\p{L}\p{N}._-]+/gu, "-")
    .replace(/^-+|-+$/g, "");
  return `${base || `checkpoint-step-${entry.step}`}${ending}`;
}
