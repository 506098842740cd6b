// The data worker: owns the example source of a run (the built-in scenes or openmoji, or
// WebDataset shards from URLs or picked files), decodes images with createImageBitmap off the
// trainer's thread, and hands the trainer worker ready batches over a MessagePort, a few batches
// ahead (src/data/feed.ts). OpenMoji's SVGs can only be drawn through an <img> element, which
// Workers lack: the page draws them, asked over a second port (app/train/data-link.ts).
import { type DataEnv, openExampleSource, vocabularyCaptions } from "../../src/data/datasets";
import { decodeImage } from "../../src/data/decode-browser";
import { type FeedPort, serveFeed } from "../../src/data/feed";
import type { OpenMoji, OpenMojiRenderer } from "../../src/data/openmoji/dataset";
import { loadOpenMoji } from "../../src/data/openmoji/load-browser";
import type { RenderReply, RenderRequest } from "./data-api";

/** Draws emoji by asking the page, several at once. */
function pageRenderer(port: MessagePort): OpenMojiRenderer {
  let nextId = 1;
  const waiting = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();
  port.onmessage = (event: MessageEvent<RenderReply>) => {
    const r = event.data;
    const w = waiting.get(r.id);
    if (!w) return;
    waiting.delete(r.id);
    if (r.bytes) w.resolve(r.bytes);
    else w.reject(new Error(r.error ?? "the page could not draw this emoji"));
  };
  return (hexcode, size) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      port.postMessage({ id, hexcode, size } satisfies RenderRequest);
    });
}

self.onmessage = (event: MessageEvent<{ feed: MessagePort; render: MessagePort; base: string }>) => {
  const { feed, render, base } = event.data;
  let openmoji: Promise<{ dataset: OpenMoji; render: OpenMojiRenderer }> | null = null;
  const renderer = pageRenderer(render);
  const env: DataEnv = {
    decode: (bytes, skipped) => decodeImage(bytes, skipped),
    openmoji: () => {
      openmoji ??= loadOpenMoji().then((dataset) => ({ dataset, render: renderer }));
      openmoji.catch(() => {
        openmoji = null; // try again next time
      });
      return openmoji;
    },
    // A relative shard path is a URL relative to the page.
    toUrl: (item) => new URL(item, base).href,
    source: { attempts: 4, baseDelayMs: 500, stallMs: 30_000 },
  };
  serveFeed(feed as FeedPort, {
    open: (spec, options) => openExampleSource(spec, options, env),
    captions: (spec) => vocabularyCaptions(spec, env),
  });
};
