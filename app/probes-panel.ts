// The Train page's live dense probes: for each probe image (held-out scenes), the image, the
// PCA of its patch features as RGB and the query's similarity heatmap, and below them which
// probe caption CLS#1 (web) and CLS#2 (synthetic) rank first for each image. The trainer worker
// computes them every N steps (app/probe.ts); this panel draws the latest report.
import { byId, el } from "./dom";
import { drawGrid, drawHeatmap, drawPixels } from "./maps-view";
import type { ProbeReport } from "./train-api";

function argmax(xs: number[]): number {
  return xs.indexOf(Math.max(...xs));
}

export class ProbesPanel {
  private figures: { image: HTMLCanvasElement; pca: HTMLCanvasElement; heat: HTMLCanvasElement }[] = [];

  clear(): void {
    this.figures = [];
    byId("probe-grid").replaceChildren();
    byId("probe-retrieval").replaceChildren();
    byId("probe-status").textContent = "probes appear after the first refresh";
    byId("probe-grid").dataset.step = "";
  }

  show(r: ProbeReport): void {
    const grid = byId("probe-grid");
    if (this.figures.length !== r.images.length) {
      this.figures = r.images.map((im) => {
        const fig = el("figure", "", "probe");
        const canvases = { image: el("canvas"), pca: el("canvas"), heat: el("canvas") };
        canvases.image.className = "probe-image";
        canvases.pca.className = "probe-pca";
        canvases.heat.className = "probe-heat";
        const row = el("div", "", "probe-maps");
        row.append(canvases.image, canvases.pca, canvases.heat);
        fig.append(row, el("figcaption", im.name, "muted small"));
        grid.append(fig);
        return canvases;
      });
    }
    r.images.forEach((im, i) => {
      const f = this.figures[i];
      drawPixels(f.image, im.view.side, im.view.data);
      drawGrid(f.pca, im.view.side, r.grid, im.pca);
      drawHeatmap(f.heat, im.view, r.grid, im.heat);
      f.heat.title = `“${r.query}”: cosine from ${Math.min(...im.heat).toFixed(2)} to ${Math.max(...im.heat).toFixed(2)}`;
    });
    grid.dataset.step = String(r.step);
    grid.dataset.query = r.query;

    // Retrieval among the probe captions: each image's best web caption by CLS#1, best synthetic by CLS#2.
    const hits1 = r.cls1.filter((row, i) => argmax(row) === i).length;
    const hits2 = r.cls2.filter((row, i) => argmax(row) === i).length;
    const n = r.images.length;
    const table = el("table");
    const head = el("tr");
    head.append(
      el("th", "image"),
      el("th", `CLS#1 → web caption (${hits1}/${n})`),
      el("th", `CLS#2 → synthetic caption (${hits2}/${n})`),
    );
    table.append(el("thead"), el("tbody"));
    table.tHead!.append(head);
    r.images.forEach((_, i) => {
      const tr = el("tr");
      const cell = (captions: string[], scores: number[]) => {
        const best = argmax(scores);
        const td = el("td", `${best === i ? "✓" : "✗"} ${captions[best]}`, best === i ? "hit" : "miss");
        td.title = `own caption: ${captions[i]} (cosine ${scores[i].toFixed(3)}; best ${scores[best].toFixed(3)})`;
        return td;
      };
      tr.append(el("td", `#${i + 1}`), cell(r.web, r.cls1[i]), cell(r.syn, r.cls2[i]));
      table.tBodies[0].append(tr);
    });
    byId("probe-retrieval").replaceChildren(table);
    byId("probe-status").textContent =
      `step ${r.step} · ${r.grid} × ${r.grid} patches · query “${r.query}” · took ${Math.round(r.ms)} ms · R@1 among ${n} captions: CLS#1 ${hits1}/${n}, CLS#2 ${hits2}/${n} (chance ${(1 / n).toFixed(2)})`;
  }
}
