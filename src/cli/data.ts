// Training data for CLI commands: the built-in `scenes` (the default), the built-in `openmoji`,
// or WebDataset shards from a spec (brace pattern, URLs, files or a folder), decoded with sharp,
// plus a word vocabulary built from the data's captions when training from scratch.
import {
  type DataEnv,
  dataSpecOf,
  openExampleSource,
  renderSize,
  vocabularyCaptions,
} from "../data/datasets";
import { decodeImage } from "../data/decode-node";
import type { ExampleSource, SourcePosition } from "../data/examples";
import { loadOpenMoji, nodeOpenMojiRenderer } from "../data/openmoji-node";
import { listTarFolder, openFile } from "../data/source-node";
import { Vocabulary } from "../data/vocab";
import type { TipsConfig } from "../tips/config";

export const NODE_DATA: DataEnv = {
  decode: (bytes, skipped) => decodeImage(bytes, skipped),
  openmoji: async () => ({ dataset: await loadOpenMoji(), render: nodeOpenMojiRenderer() }),
  listFolder: listTarFolder,
  source: { openFile },
};

export function openSource(
  data: string,
  config: TipsConfig,
  seed: number,
  position?: SourcePosition,
): Promise<ExampleSource> {
  return openExampleSource(dataSpecOf(data), { size: renderSize(config), seed, position }, NODE_DATA);
}

/** A vocabulary of the most frequent words of the first `samples` samples' captions (web and synthetic). */
export async function buildVocabulary(data: string, size: number, samples = 5000): Promise<Vocabulary> {
  return Vocabulary.build(await vocabularyCaptions(dataSpecOf(data), NODE_DATA, samples), size);
}
