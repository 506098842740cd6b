// Training data for CLI commands: the built-in `scenes` (the default) or WebDataset shards from a
// spec (brace pattern, URLs, files or a folder), decoded with sharp, plus a word vocabulary
// built from the data's captions when training from scratch.
import { decodeImage } from "../data/decode-node";
import { type ExampleSource, ScenesSource, ShardSource, type SourcePosition } from "../data/examples";
import { describeScene } from "../data/scenes";
import { resolveShards } from "../data/shards";
import { listTarFolder, openFile } from "../data/source-node";
import { Vocabulary } from "../data/vocab";
import { WebDataset } from "../data/webdataset";
import type { TipsConfig } from "../tips/config";

/** Scenes are rendered 1.5x the model's input so that random-resized crops have pixels to spare. */
export function scenesRenderSize(config: TipsConfig): number {
  return Math.round((config.vision.imageSize * 1.5) / 8) * 8;
}

export async function openSource(
  data: string,
  config: TipsConfig,
  seed: number,
  position?: SourcePosition,
): Promise<ExampleSource> {
  if (data === "scenes") return new ScenesSource({ size: scenesRenderSize(config), seed: 0, position });
  const shards = await resolveShards(data, { listFolder: listTarFolder });
  return new ShardSource(shards, (bytes, skipped) => decodeImage(bytes, skipped), {
    source: { openFile },
    seed,
    shuffle: 1000,
    shuffleShards: true,
    epochs: Number.POSITIVE_INFINITY,
    position,
  });
}

/** A vocabulary of the most frequent words of the first `samples` captions (web and synthetic). */
export async function buildVocabulary(data: string, size: number, samples = 5000): Promise<Vocabulary> {
  const captions: string[] = [];
  if (data === "scenes") {
    for (let i = 0; i < samples; i++) {
      const d = describeScene(i, { split: "train" });
      captions.push(d.webCaption, d.syntheticCaption);
    }
  } else {
    const shards = await resolveShards(data, { listFolder: listTarFolder });
    const dataset = new WebDataset(shards, { source: { openFile } });
    for await (const s of dataset) {
      captions.push(s.webCaption, s.syntheticCaption ?? "");
      if (captions.length >= 2 * samples) break;
    }
    await dataset.close();
    if (captions.length === 0) throw new Error(`no captions could be read from ${data}`);
  }
  return Vocabulary.build(captions, size);
}
