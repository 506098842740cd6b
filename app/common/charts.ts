// Live training curves with uPlot: one chart per quantity, x = step, fed column-wise.
import "./locale";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface SeriesSpec {
  /** The history column it plots. */
  key: string;
  label: string;
  color: string;
}

const AXIS = {
  stroke: "#5f6b7a",
  grid: { stroke: "#e6eaf0", width: 1 },
  ticks: { stroke: "#d8dee6", width: 1 },
  font: "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
};

function tickValue(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a < 1e-4 || a >= 1e6) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

/** Steps are whole numbers: ticks at 1, 2, 5 x 10^k. */
const STEP_INCREMENTS = Array.from({ length: 7 }, (_, k) => [1, 2, 5].map((m) => m * 10 ** k)).flat();

/** A line chart that sizes itself to its container and redraws at most once per frame. Clicking a
 * series in the legend hides or shows it, as `setShown` does (the y axis fits the series shown);
 * `setLog` switches the y axis between linear and log. */
export class LineChart {
  private plot: uPlot;
  /** Called when a series is hidden or shown, from the legend or from `setShown`. */
  onShownChange: (key: string, shown: boolean) => void = () => {};
  private xs: number[] = [];
  private ys: (number | null)[][];
  private frame = 0;

  constructor(
    private readonly container: HTMLElement,
    private readonly series: SeriesSpec[],
    private readonly height: number,
  ) {
    this.ys = series.map(() => []);
    this.plot = this.build(
      false,
      series.map(() => true),
    );
    new ResizeObserver(() => {
      const width = this.container.clientWidth;
      if (width > 0 && width !== this.plot.width) this.plot.setSize({ width, height: this.height });
    }).observe(container);
    this.container.dataset.points = "0";
  }

  /** A log y axis spreads terms of different sizes (a total near 10 flattens CLIP terms near 1). */
  setLog(log: boolean): void {
    // uPlot fixes a scale's distribution when it is made: rebuild, keeping which series are shown.
    const shown = this.plot.series.slice(1).map((s) => s.show !== false);
    this.plot.destroy();
    this.plot = this.build(log, shown);
    this.plot.setData([this.xs, ...this.ys] as uPlot.AlignedData);
  }

  setShown(key: string, shown: boolean): void {
    const i = this.series.findIndex((s) => s.key === key);
    if (i >= 0 && this.isShown(key) !== shown) this.plot.setSeries(i + 1, { show: shown });
  }

  private isShown(key: string): boolean {
    const i = this.series.findIndex((s) => s.key === key);
    return this.plot.series[i + 1]?.show !== false;
  }

  private build(log: boolean, shown: boolean[]): uPlot {
    this.container.dataset.scale = log ? "log" : "linear";
    return new uPlot(
      {
        width: Math.max(this.container.clientWidth, 200),
        height: this.height,
        legend: { show: true, live: true },
        cursor: { drag: { x: false, y: false } },
        hooks: {
          setSeries: [
            (_u, i, opts) => {
              if (i !== null && i > 0 && opts.show !== undefined)
                this.onShownChange(this.series[i - 1].key, opts.show);
            },
          ],
        },
        scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
        axes: [
          { ...AXIS, incrs: STEP_INCREMENTS, values: (_u, splits) => splits.map((v) => String(v)) },
          // A log axis leaves the splits it does not label as null.
          { ...AXIS, size: 56, values: (_u, splits) => splits.map((v) => (v === null ? "" : tickValue(v))) },
        ],
        series: [
          // The legend shows values under the cursor only (the tiles show the latest).
          { label: "step", value: (_u: uPlot, v: number | null) => (v === null ? "" : String(v)) },
          ...this.series.map((s, i) => ({
            label: s.label,
            show: shown[i],
            stroke: s.color,
            width: 2,
            spanGaps: false,
            points: { show: (u: uPlot) => u.data[0].length < 40 },
            value: (_u: uPlot, v: number | null, _s: number, idx: number | null) =>
              idx === null ? "" : v === null ? "—" : tickValue(v),
          })),
        ],
      },
      [[], ...this.series.map(() => [])],
      this.container,
    );
  }

  /** Replaces the data with these columns (x under "step"). */
  load(history: Record<string, (number | null)[]> | null): void {
    this.xs = [...((history?.step ?? []) as number[])];
    this.ys = this.series.map((s) => [...(history?.[s.key] ?? [])]);
    this.container.dataset.loadedPoints = String(this.xs.length);
    this.redraw();
  }

  /** Appends one point per series (null leaves a gap). */
  push(x: number, values: Record<string, number | null>): void {
    this.xs.push(x);
    this.series.forEach((s, i) => {
      const v = values[s.key];
      this.ys[i].push(v === null || v === undefined || !Number.isFinite(v) ? null : v);
    });
    this.redraw();
  }

  clear(): void {
    this.load(null);
  }

  private redraw(): void {
    this.container.dataset.points = String(this.xs.length);
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.plot.setData([this.xs, ...this.ys] as uPlot.AlignedData);
    });
  }
}
