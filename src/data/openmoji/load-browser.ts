// The OpenMoji dataset in a browser app served or built by Vite. The records (openmoji.json,
// 2.2 MB) and the 4495 colour SVGs (23 MB) stay files, fetched only when used: the records when
// loadOpenMoji() runs, each SVG when its emoji is drawn. A build emits them as assets and loads
// a table of their URLs (75 KB gzipped, svgs.ts); the dev server serves them from
// node_modules as they are.
//
// SVGs are rasterised by the browser through an <img> element, which Workers do not have: render
// on the main thread and hand the PNG bytes over. Pixels differ slightly from Node's (librsvg)
// rasterisation; for the same bytes everywhere, write shards with `tips shards --from openmoji`.
import recordsUrl from "openmoji/data/openmoji.json?url";
import { OpenMoji, type OpenMojiOptions, type OpenMojiRecord, type OpenMojiRenderer } from "./dataset";

/** The package's SVG folder relative to this file (a variable, so Vite leaves the URL alone). */
const SVG_FOLDER = "../../../node_modules/openmoji/color/svg/";

let svgUrl: Promise<(hexcode: string) => string | undefined> | null = null;

function svgUrls(): Promise<(hexcode: string) => string | undefined> {
  svgUrl ??= import.meta.env.DEV
    ? Promise.resolve((hexcode: string) => {
        const path = `${SVG_FOLDER}${hexcode}.svg`;
        return new URL(path, import.meta.url).href;
      })
    : import("./svgs").then(
        ({ SVG_DIR, SVG_URLS }) =>
          (hexcode: string) =>
            SVG_URLS[`${SVG_DIR}${hexcode}.svg`],
      );
  return svgUrl;
}

export async function loadOpenMojiRecords(): Promise<OpenMojiRecord[]> {
  const response = await fetch(recordsUrl);
  if (!response.ok) throw new Error(`openmoji.json: HTTP ${response.status} ${response.statusText}`);
  return (await response.json()) as OpenMojiRecord[];
}

export async function loadOpenMoji(options: OpenMojiOptions = {}): Promise<OpenMoji> {
  return new OpenMoji(await loadOpenMojiRecords(), options);
}

/** The URL of an emoji's colour SVG. */
export async function openMojiSvgUrl(hexcode: string): Promise<string> {
  const url = (await svgUrls())(hexcode);
  if (!url) throw new Error(`OpenMoji has no SVG for ${hexcode}`);
  return url;
}

/** A renderer for openMojiSamples: the colour SVG as a size x size PNG on white (main thread only). */
export function browserOpenMojiRenderer(): OpenMojiRenderer {
  return async (hexcode, size) => {
    if (typeof Image === "undefined") {
      throw new Error(
        "OpenMoji SVGs are drawn through an <img> element, which Workers lack: render on the main thread",
      );
    }
    const image = new Image(size, size);
    image.src = await openMojiSvgUrl(hexcode);
    await image.decode();
    const canvas = new OffscreenCanvas(size, size);
    const context = canvas.getContext("2d")!;
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, size, size);
    context.drawImage(image, 0, 0, size, size);
    const blob = await canvas.convertToBlob({ type: "image/png" });
    return new Uint8Array(await blob.arrayBuffer());
  };
}
