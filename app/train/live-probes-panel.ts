// The Train page's live dense probes: for each probe image (held-out scenes), the image, the
// PCA of its patch features as RGB and the query's similarity heatmap, and below them which
// probe caption CLS#1 (web) and CLS#2 (synthetic) rank first for each image. The trainer worker
// computes them every N steps (app/train/live-probes.ts); this panel draws the latest report.
import { byId, el } from "../common/dom";
import { drawGrid, drawHeatmap, drawPixels } from "../common/maps-view";
import type { ProbeReport } from "./api";

function argmax(xs: number[]): number {
  return xs.indexOf(Math.max(...xs));
}

export class ProbesPanel {
  private figures: {
    image: HTMLCanvasElement;
    pca: HTMLCanvasElement;
    heat: HTMLCanvasElement;
    caption: HTMLElement;
  }[] = [];

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
      this.figures = r.images.map(() => {
        const fig = el("figure", "", "probe");
        const canvases = { image: el("canvas"), pca: el("canvas"), heat: el("canvas") };
        canvases.image.className = "probe-image";
        canvases.pca.className = "probe-pca";
        canvases.heat.className = "probe-heat";
        const row = el("div", "", "probe-maps");
        row.append(canvases.image, canvases.pca, canvases.heat);
        const caption = el("figcaption", "", "muted small");
        fig.append(row, caption);
        grid.append(fig);
        return { ...canvases, caption };
      });
    }
    r.images.forEach((im, i) => {
      const f = this.figures[i];
      // Numbered as the rows of the retrieval table below.
      f.caption.textContent = `#${i + 1} · ${im.name}`;
      drawPixels(f.image, im.view.side, im.view.data);
      drawGrid(f.pca, im.view.side, r.grid, im.pca);
      drawHeatmap(f.heat, im.view, r.grid, im.heat);
      f.heat.title = `“${r.query}”: cosine from ${Math.min(...im.heat).toFixed(2)} to ${Math.max(...im.heat).toFixed(2)}`;
    });
    grid.dataset.step = String(r.step);
    grid.dataset.query = r.query;

    // Retrieval among the probe captions: each image's own captions once, and beside each the
    // caption that CLS#1 (web) and CLS#2 (synthetic) rank first for that image, by its row.
    const picks1 = r.cls1.map(argmax);
    const picks2 = r.cls2.map(argmax);
    const hits1 = picks1.filter((best, i) => best === i).length;
    const hits2 = picks2.filter((best, i) => best === i).length;
    const n = r.images.length;
    const table = el("table");
    const head = el("tr");
    const pickHead = (cls: string, hits: number) => {
      const th = el("th", `${cls} (${hits}/${n})`, "pick");
      th.title = `The caption ${cls} ranks first for the image: ✓ its own, or the row of the one it ranks first`;
      return th;
    };
    head.append(
      el("th", "#"),
      el("th", "web caption"),
      pickHead("CLS#1", hits1),
      el("th", "synthetic caption"),
      pickHead("CLS#2", hits2),
    );
    table.append(el("thead"), el("tbody"));
    table.tHead!.append(head);
    const caption = (text: string) => {
      const td = el("td", "", "caption");
      td.append(el("div", text));
      td.title = text;
      return td;
    };
    const pick = (i: number, best: number, scores: number[], cls: string) => {
      const hit = best === i;
      const td = el("td", hit ? "✓ own" : `✗ #${best + 1}`, hit ? "pick hit" : "pick miss");
      td.dataset.pick = String(best + 1);
      td.title = hit
        ? `${cls} of image #${i + 1} ranks its own caption first (cosine ${scores[i].toFixed(3)})`
        : `${cls} of image #${i + 1} ranks #${best + 1}'s caption first (cosine ${scores[best].toFixed(3)}; its own ${scores[i].toFixed(3)})`;
      return td;
    };
    r.images.forEach((_, i) => {
      const tr = el("tr");
      tr.append(
        el("td", `#${i + 1}`),
        caption(r.web[i]),
        pick(i, picks1[i], r.cls1[i], "CLS#1"),
        caption(r.syn[i]),
        pick(i, picks2[i], r.cls2[i], "CLS#2"),
      );
      table.tBodies[0].append(tr);
    });
    byId("probe-retrieval").replaceChildren(table);
    byId("probe-status").textContent =
      `step ${r.step} · ${r.grid} × ${r.grid} patches · query “${r.query}” · took ${Math.round(r.ms)} ms · R@1 among ${n} captions: CLS#1 ${hits1}/${n}, CLS#2 ${hits2}/${n} (chance ${(1 / n).toFixed(2)})`;
  }
}
