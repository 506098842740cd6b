// Drawing probe maps on canvases, shared by the Inference page and the Train page's live probes:
// an image, a patch grid of colours (PCA), a similarity heatmap blended over the image, and a
// segmentation with its legend. The maths is in src/featuremaps/; this file only paints pixels.
import { classColour, heatColour, range, upsample } from "../../src/featuremaps/maps";
import { el } from "./dom";

/** Sizes the canvas to side x side and paints RGBA pixels of that size. */
export function drawPixels(canvas: HTMLCanvasElement, side: number, rgba: Uint8ClampedArray): void {
  canvas.width = side;
  canvas.height = side;
  canvas.getContext("2d")!.putImageData(new ImageData(new Uint8ClampedArray(rgba), side, side), 0, 0);
}

/** A grid x grid RGBA map, one block of pixels per patch (nearest neighbour), on a side x side canvas. */
export function drawGrid(
  canvas: HTMLCanvasElement,
  side: number,
  grid: number,
  rgba: Uint8ClampedArray,
): void {
  const out = new Uint8ClampedArray(side * side * 4);
  for (let y = 0; y < side; y++) {
    const gy = Math.min(Math.floor((y * grid) / side), grid - 1);
    for (let x = 0; x < side; x++) {
      const gx = Math.min(Math.floor((x * grid) / side), grid - 1);
      out.set(rgba.subarray((gy * grid + gx) * 4, (gy * grid + gx) * 4 + 4), (y * side + x) * 4);
    }
  }
  drawPixels(canvas, side, out);
}

/**
 * A similarity map (grid x grid patch values) upsampled bilinearly, coloured on the heat scale
 * from its own minimum to its maximum, and blended over the image (`alpha` of heat).
 * Returns the range it was scaled over.
 */
export function drawHeatmap(
  canvas: HTMLCanvasElement,
  view: { side: number; data: Uint8ClampedArray },
  grid: number,
  values: Float32Array,
  alpha = 0.7,
): [number, number] {
  const side = view.side;
  const [lo, hi] = range(values);
  const up = upsample(values, grid, grid, side, side);
  const out = new Uint8ClampedArray(side * side * 4);
  const span = hi - lo || 1;
  for (let i = 0; i < side * side; i++) {
    const c = heatColour((up[i] - lo) / span);
    for (let k = 0; k < 3; k++) out[i * 4 + k] = (1 - alpha) * view.data[i * 4 + k] + alpha * c[k];
    out[i * 4 + 3] = 255;
  }
  drawPixels(canvas, side, out);
  return [lo, hi];
}

/** Class labels per patch as colours (nearest neighbour), blended over the image. */
export function drawSegmentation(
  canvas: HTMLCanvasElement,
  view: { side: number; data: Uint8ClampedArray },
  grid: number,
  labels: Int32Array,
  alpha = 0.6,
): void {
  const side = view.side;
  const out = new Uint8ClampedArray(side * side * 4);
  for (let y = 0; y < side; y++) {
    const gy = Math.min(Math.floor((y * grid) / side), grid - 1);
    for (let x = 0; x < side; x++) {
      const gx = Math.min(Math.floor((x * grid) / side), grid - 1);
      const c = classColour(labels[gy * grid + gx]);
      const i = y * side + x;
      for (let k = 0; k < 3; k++) out[i * 4 + k] = (1 - alpha) * view.data[i * 4 + k] + alpha * c[k];
      out[i * 4 + 3] = 255;
    }
  }
  drawPixels(canvas, side, out);
}

/** The legend of a segmentation: a swatch, the class name and its share of the patches. */
export function segmentationLegend(list: HTMLElement, classes: string[], counts: number[]): void {
  const total = counts.reduce((a, b) => a + b, 0) || 1;
  list.replaceChildren(
    ...classes.map((name, k) => {
      const li = el("li");
      const swatch = el("span", "", "swatch");
      swatch.style.background = `rgb(${classColour(k).join(",")})`;
      li.dataset.count = String(counts[k]);
      li.append(
        swatch,
        el("span", name, "legend-name"),
        el("span", `${Math.round((100 * counts[k]) / total)}%`, "muted"),
      );
      if (counts[k] === 0) li.classList.add("absent");
      return li;
    }),
  );
}

/** A colour bar for the heat scale, low to high. */
export function heatScale(canvas: HTMLCanvasElement): void {
  const w = 128;
  const data = new Uint8ClampedArray(w * 4);
  for (let x = 0; x < w; x++) {
    const c = heatColour(x / (w - 1));
    data.set([...c, 255], x * 4);
  }
  canvas.width = w;
  canvas.height = 1;
  canvas.getContext("2d")!.putImageData(new ImageData(data, w, 1), 0, 0);
}
