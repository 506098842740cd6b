// The Self-check page: reports the GPU and runs the op self-check in a worker, one table per family.
import * as Comlink from "comlink";
import type { DeviceInfo } from "../../src/gpu/device";
import type { CheckResult } from "../../src/ops/check";
import { addFact, byId, el } from "../common/dom";
import type { FamilyPlan, SelfCheckApi } from "./worker";

function showDevice(info: DeviceInfo): void {
  byId("adapter-status").hidden = true;
  const facts = byId("adapter-info");
  addFact(facts, "vendor", info.vendor);
  addFact(facts, "architecture", info.architecture);
  addFact(facts, "description", info.description);
  const features = byId("adapter-features");
  if (info.features.length === 0) features.append(el("li", "none (f32 only)", "chip muted"));
  for (const f of info.features) features.append(el("li", f, "chip"));
  const limits = byId("adapter-limits");
  for (const [name, value] of Object.entries(info.limits))
    addFact(limits, name, value.toLocaleString("en-US"));
}

/** Errors are normalised by tolerance: at most 1 passes. */
function formatError(e: number | null): string {
  if (e === null) return "—";
  if (Number.isNaN(e)) return "n/a";
  if (!Number.isFinite(e)) return "inf";
  return e < 0.001 && e > 0 ? e.toExponential(1) : e.toFixed(3);
}

interface FamilyView {
  rows: HTMLTableRowElement[];
  count: HTMLElement;
  done: number;
  failed: number;
}

class SelfCheckView {
  private families = new Map<string, FamilyView>();
  private passed = 0;
  private failed = 0;
  private total = 0;

  constructor(
    private readonly container: HTMLElement,
    private readonly status: HTMLElement,
    private readonly error: HTMLElement,
  ) {}

  reset(plan: FamilyPlan[]): void {
    this.container.replaceChildren();
    this.families.clear();
    this.passed = 0;
    this.failed = 0;
    this.total = plan.reduce((n, f) => n + f.cases.length, 0);
    for (const { family, cases } of plan) {
      const count = el("span", `0/${cases.length}`, "count");
      const head = el("h3", family);
      head.append(" ", count);
      const table = el("table");
      const header = table.createTHead().insertRow();
      for (const h of ["case", "result", "forward error", "grad error", "details"])
        header.append(el("th", h));
      const body = table.createTBody();
      const rows = cases.map((name) => {
        const row = body.insertRow();
        row.append(
          el("td", name, "name"),
          el("td", "pending", "muted"),
          el("td"),
          el("td"),
          el("td", "", "details"),
        );
        return row;
      });
      this.families.set(family, { rows, count, done: 0, failed: 0 });
      const section = el("section", "", "family");
      section.append(head, table);
      this.container.append(section);
    }
    this.status.removeAttribute("data-state");
    this.status.className = "status";
    this.status.textContent = `running: 0/${this.total}`;
    this.error.hidden = true;
  }

  add(family: string, index: number, r: CheckResult): void {
    const f = this.families.get(family)!;
    const [, result, fwd, grad, details] = f.rows[index].cells;
    result.textContent = r.ok ? "pass" : "FAIL";
    result.className = r.ok ? "pass" : "fail";
    fwd.textContent = formatError(r.forwardError);
    grad.textContent = formatError(r.gradError);
    details.textContent = r.ok ? "" : r.message;
    f.done++;
    if (r.ok) this.passed++;
    else {
      this.failed++;
      f.failed++;
    }
    f.count.textContent = `${f.done}/${f.rows.length}` + (f.failed ? `, ${f.failed} failed` : "");
    f.count.className = f.failed ? "count fail" : "count";
    this.status.textContent = `running: ${this.passed + this.failed}/${this.total}`;
  }

  /** Cases that never reported (the run stopped with `error`) count as failed. */
  finish(error?: string): void {
    const ok = !error && this.passed === this.total;
    this.status.textContent = ok
      ? `self-check passed: ${this.passed}/${this.total}`
      : `self-check failed: ${this.total - this.passed} of ${this.total}`;
    this.status.dataset.state = ok ? "passed" : "failed";
    this.status.className = ok ? "status pass" : "status fail";
    if (error) {
      this.error.textContent = `The self-check stopped: ${error}`;
      this.error.hidden = false;
    }
  }
}

/**
 * Starts the Self-check page: its worker acquires a GPU of its own, the page lists the adapter,
 * and the check runs once (again on the button). `onGpuError` reports a missing WebGPU.
 */
export async function startSelfCheck(onGpuError: (err: unknown) => void): Promise<void> {
  const showGpuError = (err: unknown) => {
    byId("adapter").hidden = true;
    byId("selfcheck").hidden = true;
    onGpuError(err);
  };
  const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
  // A worker that fails to load never answers a call: report it instead of waiting forever.
  worker.addEventListener("error", (ev) =>
    showGpuError(new Error(`the GPU worker failed: ${ev.message || "it did not load"}`)),
  );
  const selfCheck = Comlink.wrap<SelfCheckApi>(worker);
  try {
    showDevice(await selfCheck.start());
  } catch (err) {
    showGpuError(err);
    return;
  }
  const plan = await selfCheck.plan();
  const view = new SelfCheckView(
    byId("selfcheck-families"),
    byId("selfcheck-status"),
    byId("selfcheck-error"),
  );
  const button = byId<HTMLButtonElement>("run-selfcheck");

  const run = async () => {
    button.disabled = true;
    view.reset(plan);
    try {
      await selfCheck.run(Comlink.proxy((family, index, result) => view.add(family, index, result)));
      view.finish();
    } catch (err) {
      view.finish(err instanceof Error ? err.message : String(err));
    } finally {
      button.disabled = false;
    }
  };
  button.addEventListener("click", run);
  await run();
}
