// The OpenMoji dataset in Node: records and colour SVGs read from the installed npm package
// (node_modules/openmoji, resolved at run time so that bundles do not carry its 2 MB of JSON),
// rasterised with sharp (librsvg) and flattened onto white.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { loadSharp } from "../decode-node";
import { OpenMoji, type OpenMojiOptions, type OpenMojiRecord } from "./dataset";

/** The folder of the installed openmoji package. */
export function openMojiPackageDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve("openmoji/package.json"));
  } catch (error) {
    throw new Error("the openmoji package is not installed: run npm install", { cause: error });
  }
}

export async function loadOpenMojiRecords(packageDir = openMojiPackageDir()): Promise<OpenMojiRecord[]> {
  const text = await readFile(join(packageDir, "data", "openmoji.json"), "utf8");
  return JSON.parse(text) as OpenMojiRecord[];
}

export async function loadOpenMoji(options: OpenMojiOptions = {}): Promise<OpenMoji> {
  return new OpenMoji(await loadOpenMojiRecords(), options);
}

/** A renderer for openMojiSamples: the colour SVG as a size x size PNG on white. */
export function nodeOpenMojiRenderer(packageDir = openMojiPackageDir()) {
  return async (hexcode: string, size: number): Promise<Uint8Array> => {
    const svg = await readFile(join(packageDir, "color", "svg", `${hexcode}.svg`));
    // The SVGs are 72 units wide and librsvg draws a unit as a pixel at 72 dpi: `size` dpi gives
    // `size` pixels (the resize only guards against an SVG of another size).
    const sharp = await loadSharp();
    const png = await sharp(svg, { density: size })
      .resize(size, size, { fit: "contain", background: "#ffffff" })
      .flatten({ background: "#ffffff" })
      .png()
      .toBuffer();
    return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
  };
}
