// The loss chart's per-term switches: one checkbox per curve (total and each term), kept in step
// with the chart's legend. A term that is off in the run has no curve: its switch is disabled.
import type { LineChart, SeriesSpec } from "../common/charts";
import { el } from "../common/dom";

export class LossToggles {
  private readonly boxes = new Map<string, HTMLInputElement>();

  constructor(
    container: HTMLElement,
    private readonly chart: LineChart,
    series: SeriesSpec[],
  ) {
    for (const s of series) {
      const box = el("input");
      box.type = "checkbox";
      box.id = `loss-show-${s.key}`;
      box.checked = true;
      box.addEventListener("change", () => chart.setShown(s.key, box.checked));
      const swatch = el("span", "", "swatch");
      swatch.style.background = s.color;
      const label = el("label", "", "term-toggle");
      label.append(box, swatch, s.label);
      container.append(label);
      this.boxes.set(s.key, box);
    }
    chart.onShownChange = (key, shown) => {
      const box = this.boxes.get(key);
      if (box) box.checked = shown;
    };
  }

  /** A new run: its terms shown, the terms it leaves off hidden and their switches disabled. */
  setRunTerms(on: Record<string, boolean>): void {
    for (const [key, box] of this.boxes) {
      const inRun = on[key] ?? true;
      box.disabled = !inRun;
      box.parentElement!.title = inRun ? "" : "off in this run";
      this.chart.setShown(key, inRun);
    }
  }
}
