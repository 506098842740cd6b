// Starts the data worker and joins it to the trainer worker: a MessageChannel whose ends go to
// each (batches flow between the two workers, never through the page), and a second channel on
// which the page draws OpenMoji's SVGs for the data worker (only a page has <img> to draw them).
import { browserOpenMojiRenderer } from "../../src/data/openmoji/load-browser";
import type { RenderReply, RenderRequest } from "./data-api";

/** Starts the data worker; returns the port to give the trainer worker. */
export function startDataWorker(onError: (message: string) => void): MessagePort {
  const worker = new Worker(new URL("./data.worker.ts", import.meta.url), { type: "module" });
  worker.addEventListener("error", (ev) =>
    onError(`the data worker failed: ${ev.message || "it did not load"}`),
  );
  const feed = new MessageChannel();
  const render = new MessageChannel();
  const draw = browserOpenMojiRenderer();
  render.port2.onmessage = async (event: MessageEvent<RenderRequest>) => {
    const { id, hexcode, size } = event.data;
    try {
      const bytes = await draw(hexcode, size);
      render.port2.postMessage({ id, bytes } satisfies RenderReply, [bytes.buffer as ArrayBuffer]);
    } catch (error) {
      render.port2.postMessage({
        id,
        error: error instanceof Error ? error.message : String(error),
      } satisfies RenderReply);
    }
  };
  // Relative shard URLs are on the page's site, not relative to the worker's script.
  const base = location.href;
  worker.postMessage({ feed: feed.port1, render: render.port1, base }, [feed.port1, render.port1]);
  return feed.port2;
}
