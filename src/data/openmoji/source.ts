// The built-in `openmoji` dataset as an example source: the train split's emoji in package order,
// cycling, each drawn by a renderer (sharp in Node; the page's <img> in the browser) and decoded
// like any image. The position is the number of emoji handed out, so a resumed source draws the
// same emoji next.
import type { Decoder, Example, ExampleSource, SourcePosition } from "../examples";
import { emptySkipCounts } from "../skips";
import type { OpenMojiEntry, OpenMojiRenderer } from "./dataset";

export interface OpenMojiSourceOptions {
  /** Rendered image side in pixels. */
  size: number;
  position?: SourcePosition;
}

export class OpenMojiSource implements ExampleSource {
  readonly skipped = emptySkipCounts();
  private index: number;

  constructor(
    private readonly entries: readonly OpenMojiEntry[],
    private readonly render: OpenMojiRenderer,
    private readonly decode: Decoder,
    private readonly options: OpenMojiSourceOptions,
  ) {
    if (entries.length === 0) throw new Error("the openmoji source has no emoji to draw");
    const p = options.position;
    if (p && p.kind !== "openmoji")
      throw new Error(`a ${p.kind} position cannot resume the openmoji dataset`);
    this.index = p?.next ?? 0;
  }

  /** Draws the emoji of a batch at once (the renderer may work on them in parallel), in order. */
  async next(n: number): Promise<Example[]> {
    const out: Example[] = [];
    while (out.length < n) {
      const batch = Array.from({ length: n - out.length }, () => {
        const index = this.index++;
        return this.entries[index % this.entries.length];
      });
      const images = await Promise.all(
        batch.map(async (e) => {
          let bytes: Uint8Array;
          try {
            bytes = await this.render(e.key, this.options.size);
          } catch {
            this.skipped.bad_image++;
            return null;
          }
          return this.decode(bytes, this.skipped);
        }),
      );
      batch.forEach((e, i) => {
        const image = images[i];
        if (image)
          out.push({ key: e.key, image, webCaption: e.webCaption, syntheticCaption: e.syntheticCaption });
      });
      // Every emoji failing would loop forever: a renderer that draws nothing is an error.
      if (images.every((image) => image === null))
        throw new Error(
          `openmoji: none of ${batch.length} emoji could be drawn (renderer or decoder broken)`,
        );
    }
    return out;
  }

  position(): SourcePosition {
    return { kind: "openmoji", next: this.index };
  }

  async close(): Promise<void> {}
}
