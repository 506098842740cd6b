// What the trainer consumes: decoded examples (RGBA image, web caption, synthetic caption) in
// batches, from a source that can say where it stands so that a checkpoint can resume it
// exactly. Three sources: the built-in `scenes` generator, the built-in `openmoji` emoji
// (openmoji/source.ts) and WebDataset shards with a decoder (sharp in Node, createImageBitmap in
// the browser).
import type { RgbaImage } from "./image";
import { renderScene, type SceneSplit, scenesSplit } from "./scenes/scene";
import { emptySkipCounts, type SkipCounts } from "./skips";
import { WebDataset, type WebDatasetOptions, type WebDatasetPosition } from "./webdataset/reader";
import type { ShardRef } from "./webdataset/source";

export interface Example {
  key: string;
  image: RgbaImage;
  webCaption: string;
  /** The web caption again when the sample has no synthetic caption. */
  syntheticCaption: string;
}

export type SourcePosition =
  | { kind: "scenes"; next: number }
  | { kind: "openmoji"; next: number }
  /** undecodable: the samples (shard#index) whose image did not decode, counted once each. */
  | { kind: "shards"; position: WebDatasetPosition; undecodable?: string[] };

export interface ExampleSource {
  /** Up to n examples; fewer (possibly none) only when the source is exhausted. */
  next(n: number): Promise<Example[]>;
  /** Where the source stands after the examples handed out so far. */
  position(): SourcePosition;
  /** Samples dropped or changed so far, by reason. */
  readonly skipped: SkipCounts;
  close(): Promise<void>;
}

/** How scenes are drawn: image side in pixels, split and dataset seed. */
export interface SceneDraw {
  size: number;
  split: SceneSplit;
  seed: number;
}

/** One scene of the built-in dataset as a training example: the same bytes wherever it is drawn. */
export function sceneExample(index: number, o: SceneDraw): Example {
  const scene = renderScene(index, o);
  return {
    key: `scenes-${o.split}-${index}`,
    image: { width: scene.size, height: scene.size, data: scene.image },
    webCaption: scene.webCaption,
    syntheticCaption: scene.syntheticCaption,
  };
}

/** Draws scenes somewhere else than the calling thread (in Node, a pool of worker threads). */
export interface ScenesRenderer {
  /** The examples of these indices, in the order given. */
  render(indices: number[], o: SceneDraw): Promise<Example[]>;
  close(): Promise<void>;
}

export interface ScenesSourceOptions {
  /** Rendered image side in pixels (crops are taken from it). */
  size: number;
  seed?: number;
  split?: SceneSplit;
  position?: SourcePosition;
  /** Where the scenes are drawn; inline when absent. The source closes it. */
  renderer?: ScenesRenderer;
}

/** The built-in scenes, in index order, cycling over the split. */
export class ScenesSource implements ExampleSource {
  readonly skipped = emptySkipCounts();
  private index: number;

  constructor(private readonly options: ScenesSourceOptions) {
    const p = options.position;
    if (p && p.kind !== "scenes") throw new Error(`a ${p.kind} position cannot resume the scenes dataset`);
    this.index = p?.next ?? 0;
  }

  async next(n: number): Promise<Example[]> {
    const split = this.options.split ?? "train";
    const count = scenesSplit(split);
    const indices = Array.from({ length: n }, () => this.index++ % count);
    const o: SceneDraw = { size: this.options.size, split, seed: this.options.seed ?? 0 };
    if (this.options.renderer) return this.options.renderer.render(indices, o);
    return indices.map((index) => sceneExample(index, o));
  }

  position(): SourcePosition {
    return { kind: "scenes", next: this.index };
  }

  async close(): Promise<void> {
    await this.options.renderer?.close();
  }
}

export type Decoder = (bytes: Uint8Array, skipped: SkipCounts) => Promise<RgbaImage | null>;

/**
 * WebDataset shards, decoded; samples whose image does not decode are skipped, and counted the
 * first time (later epochs decode them again).
 */
export class ShardSource implements ExampleSource {
  private readonly dataset: WebDataset;
  private readonly undecodable: Set<string>;

  constructor(
    shards: readonly ShardRef[],
    private readonly decode: Decoder,
    options: Omit<WebDatasetOptions, "position"> & { position?: SourcePosition } = {},
  ) {
    const { position, ...rest } = options;
    if (position && position.kind !== "shards")
      throw new Error(`a ${position.kind} position cannot resume a shard dataset`);
    this.dataset = new WebDataset(shards, { ...rest, position: position?.position });
    this.undecodable = new Set(position?.undecodable);
  }

  get skipped(): SkipCounts {
    return this.dataset.skipped;
  }

  async next(n: number): Promise<Example[]> {
    const out: Example[] = [];
    while (out.length < n) {
      const r = await this.dataset.next();
      if (r.done) break;
      const s = r.value;
      const id = `${s.shard}#${s.index}`;
      const seen = this.undecodable.has(id);
      const image = await this.decode(s.image, seen ? emptySkipCounts() : this.dataset.skipped);
      if (!image) {
        this.undecodable.add(id);
        continue;
      }
      out.push({
        key: s.key,
        image,
        webCaption: s.webCaption,
        syntheticCaption: s.syntheticCaption ?? s.webCaption,
      });
    }
    return out;
  }

  position(): SourcePosition {
    return { kind: "shards", position: this.dataset.position(), undecodable: [...this.undecodable] };
  }

  close(): Promise<void> {
    return this.dataset.close();
  }
}
