// Which data a run trains on, and how a spec becomes an example source, the same in Node and in
// the browser's data worker: the built-in `scenes`, the built-in `openmoji`, or WebDataset shards
// named by a spec (brace patterns, URLs, local paths or folders) or picked as File objects. What
// differs per platform (decoder, OpenMoji's renderer, opening local paths) comes in a DataEnv.

import {
  type Decoder,
  type ExampleSource,
  type ScenesRenderer,
  ScenesSource,
  ShardSource,
  type SourcePosition,
} from "./examples";
import type { OpenMoji, OpenMojiRenderer } from "./openmoji/dataset";
import { OpenMojiSource } from "./openmoji/source";
import { describeScene } from "./scenes/scene";
import { describeSkips } from "./skips";
import { WebDataset, type WebDatasetOptions } from "./webdataset/reader";
import { type ResolveOptions, resolveShards } from "./webdataset/shards";
import { type ShardRef, type SourceOptions, shardName } from "./webdataset/source";

export type DataSpec =
  | { kind: "scenes" }
  | { kind: "openmoji" }
  /** Brace patterns, URLs, local paths or folders, separated by commas or new lines. */
  | { kind: "shards"; spec: string }
  /** Shards picked as files (or a picked folder's .tar files), in this order. */
  | { kind: "files"; files: File[] };

export interface DataEnv {
  decode: Decoder;
  /** The OpenMoji records and a renderer of its SVGs. */
  openmoji: () => Promise<{ dataset: OpenMoji; render: OpenMojiRenderer }>;
  /** Node: lists a folder's .tar files. */
  listFolder?: ResolveOptions["listFolder"];
  /** How shards are opened: openFile for local paths (Node), retries and stall timeout for URLs. */
  source?: SourceOptions;
  /** Browser: makes a relative shard path a URL (against the page's address). */
  toUrl?: (item: string) => string;
  /** Node: draws the built-in scenes off the calling thread (a new renderer for each source opened). */
  scenesRenderer?: () => ScenesRenderer;
}

/** How shards are read for training: shuffled through a buffer, shard order permuted per epoch, forever. */
export const SHARD_READING: Pick<WebDatasetOptions, "shuffle" | "shuffleShards" | "epochs"> = {
  shuffle: 1000,
  shuffleShards: true,
  epochs: Number.POSITIVE_INFINITY,
};

/** A CLI --data value: a built-in name or a shard spec. */
export function dataSpecOf(data: string): DataSpec {
  if (data === "scenes" || data === "openmoji") return { kind: data };
  return { kind: "shards", spec: data };
}

/** What a checkpoint notes about its data, so that a resumed run reopens the same stream. */
export interface DataNotes {
  /** A CLI --data value: "scenes", "openmoji", a shard spec; for picked files their names. */
  data: string;
  /** Set when the shards were picked as files: their names, in order (they must be picked again). */
  dataFiles?: string[];
}

export function dataNotes(spec: DataSpec): DataNotes {
  if (spec.kind === "files") {
    const names = spec.files.map((f) => f.name);
    return { data: names.join(","), dataFiles: names };
  }
  return { data: spec.kind === "shards" ? spec.spec : spec.kind };
}

/**
 * The data a checkpoint was trained on, from its notes; shards that were picked as files must be
 * given again (`files`, with the same names in the same order).
 */
export function dataSpecFromNotes(
  notes: { data?: unknown; dataFiles?: unknown },
  files: readonly File[] = [],
): DataSpec {
  const names = notes.dataFiles;
  if (Array.isArray(names)) {
    const list = names.map(String);
    const picked = files.map((f) => f.name);
    if (picked.length === 0)
      throw new Error(
        `this run read its shards from local files (${list.join(", ")}): pick the same files again ` +
          "(Dataset: shard files or a folder), then resume",
      );
    if (picked.join("\n") !== list.join("\n"))
      throw new Error(
        `this run read the shard files ${list.join(", ")}, but ${picked.join(", ")} are picked: ` +
          "pick the same files (same names, same order), then resume",
      );
    return { kind: "files", files: [...files] };
  }
  return dataSpecOf(typeof notes.data === "string" && notes.data ? notes.data : "scenes");
}

/** The shards of a spec; an empty list is an error that says what to give. */
export async function shardRefs(
  spec: DataSpec,
  env: Pick<DataEnv, "listFolder" | "toUrl">,
): Promise<ShardRef[]> {
  if (spec.kind === "files") {
    if (spec.files.length === 0)
      throw new Error("no shard files were picked: pick one or more .tar files (or a folder holding them)");
    return spec.files;
  }
  if (spec.kind !== "shards") throw new Error(`${spec.kind} is a built-in dataset, not shards`);
  const items = spec.spec.split(/[\n\r]+/).filter((line) => line.trim().length > 0);
  if (items.length === 0)
    throw new Error(
      'no shards given: write shard URLs or a brace pattern such as "shards-{000000..000009}.tar"',
    );
  const shards = await resolveShards(items, { listFolder: env.listFolder });
  return env.toUrl ? shards.map(env.toUrl) : shards;
}

/** The built-in datasets are rendered 1.5x the model's input so that random-resized crops have pixels to spare. */
export function renderSize(imageSize: number): number {
  return Math.round((imageSize * 1.5) / 8) * 8;
}

export interface OpenOptions {
  /** Side of the built-in datasets' rendered images. */
  size: number;
  /** Seed of the shard shuffle. */
  seed: number;
  position?: SourcePosition;
}

export async function openExampleSource(
  spec: DataSpec,
  o: OpenOptions,
  env: DataEnv,
): Promise<ExampleSource> {
  const position = o.position;
  if (spec.kind === "scenes")
    return new ScenesSource({ size: o.size, seed: 0, position, renderer: env.scenesRenderer?.() });
  if (spec.kind === "openmoji") {
    const { dataset, render } = await env.openmoji();
    return new OpenMojiSource(dataset.split("train"), render, env.decode, { size: o.size, position });
  }
  const shards = await shardRefs(spec, env);
  return new ShardSource(shards, env.decode, {
    source: env.source,
    seed: o.seed,
    ...SHARD_READING,
    position,
  });
}

/** The captions (web and synthetic) of a dataset's first `samples` samples, to build a vocabulary from. */
export async function vocabularyCaptions(spec: DataSpec, env: DataEnv, samples = 5000): Promise<string[]> {
  const captions: string[] = [];
  if (spec.kind === "scenes") {
    for (let i = 0; i < samples; i++) {
      const d = describeScene(i, { split: "train" });
      captions.push(d.webCaption, d.syntheticCaption);
    }
    return captions;
  }
  if (spec.kind === "openmoji") {
    const { dataset } = await env.openmoji();
    for (const e of dataset.split("train").slice(0, samples)) captions.push(e.webCaption, e.syntheticCaption);
    return captions;
  }
  const shards = await shardRefs(spec, env);
  const failures: string[] = [];
  const onFailure = (error: Error) => {
    failures.push(error.message);
    env.source?.onFailure?.(error);
  };
  const dataset = new WebDataset(shards, { source: { ...env.source, onFailure } });
  for await (const s of dataset) {
    captions.push(s.webCaption, s.syntheticCaption ?? "");
    if (captions.length >= 2 * samples) break;
  }
  await dataset.close();
  if (captions.length === 0) {
    const skips = describeSkips(dataset.skipped);
    const why = [skips && `skipped: ${skips}`, failures[0]].filter(Boolean).join("; ");
    throw new Error(
      `no captions could be read from ${shards.map(shardName).join(", ")}${why ? ` (${why})` : ""}`,
    );
  }
  return captions;
}
