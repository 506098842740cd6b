// Training data for CLI commands: the built-in `scenes` (the default; drawn by worker threads),
// the built-in `openmoji`, or WebDataset shards from a spec (brace pattern, URLs, files or a
// folder), decoded with sharp, plus a word vocabulary built from the data's captions when
// training from scratch.
import { stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import {
  type DataEnv,
  type DataSpec,
  dataSpecOf,
  openExampleSource,
  renderSize,
  vocabularyCaptions,
} from "../data/datasets";
import { decodeImage } from "../data/decode-node";
import type { ExampleSource, SourcePosition } from "../data/examples";
import { loadOpenMoji, nodeOpenMojiRenderer } from "../data/openmoji/load-node";
import { ScenesPool } from "../data/scenes/pool-node";
import { Vocabulary } from "../data/text/vocab";
import { isUrl, resolveShards } from "../data/webdataset/shards";
import { listTarFolder, openFile } from "../data/webdataset/source-node";
import type { TipsConfig } from "../tips/config";
import { CliError } from "./args";
import { fileProblem } from "./files";

export const NODE_DATA: DataEnv = {
  decode: (bytes, skipped) => decodeImage(bytes, skipped),
  openmoji: async () => ({ dataset: await loadOpenMoji(), render: nodeOpenMojiRenderer() }),
  listFolder: listTarFolder,
  source: {
    openFile,
    onFailure: (error) => console.warn(`skipping a shard that cannot be read: ${error.message}`),
  },
};

/** Worker threads that draw the built-in scenes by default: the cores but the trainer's, at most 8. */
export const DEFAULT_DATA_WORKERS = Math.max(1, Math.min(8, availableParallelism() - 1));

export const DATA_WORKERS_HELP = `  --data-workers N     worker threads that draw the built-in scenes, 0 to draw them on the
                       trainer's thread (default ${DEFAULT_DATA_WORKERS}: the cores but one, at most 8)`;

export interface OpenSourceOptions {
  position?: SourcePosition;
  /** Worker threads drawing the built-in scenes; 0 (default) draws them on this thread. */
  workers?: number;
}

/** The spec of a --data value; local shards (or folders) that do not exist are refused here. */
export async function checkData(data: string): Promise<DataSpec> {
  const spec = dataSpecOf(data);
  if (spec.kind !== "shards") return spec;
  let shards: string[];
  try {
    shards = await resolveShards(spec.spec, { listFolder: listTarFolder });
  } catch (err) {
    throw new CliError(`--data ${data}: ${(err as Error).message}`);
  }
  for (const shard of shards.filter((s) => !isUrl(s))) {
    await stat(shard).catch((err) => {
      throw new CliError(`--data ${shard}: ${fileProblem(err)}`);
    });
  }
  return spec;
}

export async function openSource(
  data: string,
  config: TipsConfig,
  seed: number,
  o: OpenSourceOptions = {},
): Promise<ExampleSource> {
  const spec = await checkData(data);
  return openExampleSource(
    spec,
    { size: renderSize(config.vision.imageSize), seed, position: o.position },
    nodeData(o.workers ?? 0),
  );
}

/** NODE_DATA with the built-in scenes drawn by `workers` worker threads (none: on this thread). */
export function nodeData(workers: number): DataEnv {
  return workers > 0 ? { ...NODE_DATA, scenesRenderer: () => new ScenesPool(workers) } : NODE_DATA;
}

/** A vocabulary of the most frequent words of the first `samples` samples' captions (web and synthetic). */
export async function buildVocabulary(data: string, size: number, samples = 5000): Promise<Vocabulary> {
  return Vocabulary.build(await vocabularyCaptions(await checkData(data), NODE_DATA, samples), size);
}
