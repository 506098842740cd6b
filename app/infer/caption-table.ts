// The Inference page's caption table: the cosine of CLS#1 and CLS#2 with each typed caption, in
// the order typed or sorted by a column (its header toggles it). The best value of each column
// is in bold, and so is every value equal to it as shown (three decimals): a tie looks like one.
import { byId, el } from "../common/dom";
import type { CaptionReport } from "./api";

type SortKey = "typed" | "cls1" | "cls2";

const shown = (v: number) => v.toFixed(3);

/** Which values equal the column's best as shown. */
function tops(values: number[]): boolean[] {
  const best = shown(Math.max(...values));
  return values.map((v) => shown(v) === best);
}

export class CaptionTable {
  private sort: SortKey = "typed";
  private last: { captions: string[]; report: CaptionReport } | null = null;

  constructor() {
    for (const button of byId("infer-caption-table").querySelectorAll<HTMLButtonElement>("button[data-sort]"))
      button.addEventListener("click", () => {
        this.sort = button.dataset.sort as SortKey;
        if (this.last) this.show(this.last.captions, this.last.report);
      });
  }

  show(captions: string[], report: CaptionReport): void {
    this.last = { captions, report };
    const top1 = tops(report.cls1);
    const top2 = tops(report.cls2);
    const order = captions.map((_, i) => i);
    // Descending by the value shown; equal values keep the order typed.
    if (this.sort !== "typed") {
      const column = report[this.sort];
      order.sort((a, b) => Number(shown(column[b])) - Number(shown(column[a])));
    }
    const cell = (v: number, top: boolean) => {
      const td = el("td", shown(v), top ? "num top" : "num");
      const bar = el("span", "", "score-bar");
      bar.style.width = `${Math.max(0, Math.min(1, (v + 1) / 2)) * 100}%`;
      td.prepend(bar);
      return td;
    };
    byId("infer-caption-rows").replaceChildren(
      ...order.map((i) => {
        const tr = el("tr");
        tr.dataset.index = String(i);
        tr.append(
          el("td", captions[i], "caption"),
          cell(report.cls1[i], top1[i]),
          cell(report.cls2[i], top2[i]),
        );
        return tr;
      }),
    );
    for (const button of byId("infer-caption-table").querySelectorAll<HTMLButtonElement>("button[data-sort]"))
      button.setAttribute("aria-pressed", String(button.dataset.sort === this.sort));
    byId("infer-caption-table").hidden = false;
  }

  /** No captions typed: no table. */
  clear(): void {
    this.last = null;
    byId("infer-caption-rows").replaceChildren();
    byId("infer-caption-table").hidden = true;
  }
}
