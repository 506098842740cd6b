// The Train page: settings, run controls, live curves and metrics, and the checkpoint catalogue.
// The trainer worker owns the GPU and the loop; this page only sends commands and draws what the
// worker reports, so it never blocks.
import * as Comlink from "comlink";
import type { DeviceInfo } from "../../src/gpu/device";
import { CheckpointCatalogue, type CheckpointEntry, exportFileName } from "../../src/train/catalogue";
import { historyCsv } from "../../src/train/history-csv";
import { CHECKPOINT_RENAMED, CHECKPOINTS_CHANGED, stamp } from "../checkpoints/page";
import { LineChart } from "../common/charts";
import {
  byId,
  checkpointOption,
  deviceName,
  downloadBlob,
  el,
  errorMessage,
  errorName,
  formatDuration,
  formatValue,
} from "../common/dom";
import {
  LOSS_TERMS,
  type ProbeSettings,
  type RunInfo,
  type RunStatus,
  type StepReport,
  type TrainEvent,
  type TrainSettings,
} from "./api";
import { startDataWorker } from "./data-link";
import { DatasetForm } from "./dataset-form";
import { ProbesPanel } from "./live-probes-panel";
import { LossToggles } from "./loss-toggles";
import type { TrainerApi } from "./worker";

type PageState = "nogpu" | "connecting" | "idle" | "starting" | RunStatus;

const ACTIVE: PageState[] = ["starting", "running", "pausing", "paused", "stopping"];

const COLORS = {
  total: "#1b1f24",
  web: "#2456c7",
  syn: "#0e8a83",
  dino: "#d9480f",
  mim: "#8d3fd6",
  sparc: "#b5838d",
  rils: "#9a6700",
  lr: "#2456c7",
  gradNorm: "#d9480f",
  imagesPerSecond: "#1a7f37",
};

const LOSS_LABELS: Record<string, string> = {
  total: "total",
  web: "web CLIP",
  syn: "synthetic CLIP",
  dino: "DINO",
  mim: "MIM",
  sparc: "SPARC",
  rils: "RILS",
};

/** The name of a run left unnamed: its preset and the local date and time, to the minute. */
function defaultRunName(preset: string): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${preset} ${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export class TrainPage {
  private worker: Comlink.Remote<TrainerApi>;
  private state: PageState = "connecting";
  private steps = 0;
  /** The checkpoint the current run saves to (for "resume from the last checkpoint"). */
  private checkpoint: CheckpointEntry | null = null;
  private readonly dataset = new DatasetForm();
  private readonly charts: { loss: LineChart; lr: LineChart; grad: LineChart; ips: LineChart };
  private readonly lossToggles: LossToggles;
  private readonly buttons = {
    start: byId<HTMLButtonElement>("train-start"),
    pause: byId<HTMLButtonElement>("train-pause"),
    resume: byId<HTMLButtonElement>("train-resume"),
    stop: byId<HTMLButtonElement>("train-stop"),
    save: byId<HTMLButtonElement>("train-save"),
    curves: byId<HTMLButtonElement>("train-curves-csv"),
    infer: byId<HTMLButtonElement>("train-infer"),
    more: byId<HTMLButtonElement>("run-continue-go"),
  };
  private readonly onEvent = Comlink.proxy((e: TrainEvent) => this.handle(e));
  private readonly probes = new ProbesPanel();
  private readonly catalogue = new CheckpointCatalogue();

  constructor(
    private readonly onGpuError: (err: unknown) => void,
    private readonly openInference: (checkpointId: string) => void,
  ) {
    const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    worker.addEventListener("error", (ev) => {
      const err = new Error(`the trainer worker failed: ${ev.message || "it did not load"}`);
      if (this.state === "connecting") this.noGpu(err);
      else this.showRunError("The trainer stopped", err.message);
    });
    this.worker = Comlink.wrap<TrainerApi>(worker);
    // Batches go from the data worker to the trainer worker directly, over this port.
    const dataPort = startDataWorker((message) => this.showRunError("The data worker stopped", message));
    this.worker.connectData(Comlink.transfer(dataPort, [dataPort]));
    const lossSeries = ["total", ...LOSS_TERMS].map((key) => ({
      key,
      label: LOSS_LABELS[key],
      color: COLORS[key as keyof typeof COLORS],
    }));
    this.charts = {
      loss: new LineChart(byId("chart-loss"), lossSeries, 240),
      lr: new LineChart(byId("chart-lr"), [{ key: "lr", label: "learning rate", color: COLORS.lr }], 160),
      grad: new LineChart(
        byId("chart-grad"),
        [{ key: "gradNorm", label: "gradient norm", color: COLORS.gradNorm }],
        160,
      ),
      ips: new LineChart(
        byId("chart-ips"),
        [{ key: "imagesPerSecond", label: "images / s", color: COLORS.imagesPerSecond }],
        160,
      ),
    };
    this.lossToggles = new LossToggles(byId("loss-show"), this.charts.loss, lossSeries);
    this.wire();
    this.render();
  }

  async init(): Promise<void> {
    try {
      const { device } = await this.worker.info();
      this.showDevice(device);
      this.state = "idle";
    } catch (err) {
      this.noGpu(err);
    }
    await this.listStartPoints();
    this.render();
  }

  /** Called whenever the page is shown again: checkpoints may have come or gone elsewhere. */
  shown(): Promise<void> {
    return this.listStartPoints();
  }

  // ---- the GPU ----

  private noGpu(err: unknown): void {
    this.state = "nogpu";
    byId("train-gpu-name").textContent =
      "no WebGPU device: training is off; checkpoints can still be managed";
    this.onGpuError(err);
    this.render();
  }

  private showDevice(info: DeviceInfo): void {
    const name = byId("train-gpu-name");
    name.textContent = deviceName(info);
    name.classList.remove("muted");
    const features = byId("train-gpu-features");
    features.replaceChildren();
    if (info.features.length === 0) features.append(el("li", "f32 only", "chip muted"));
    for (const f of info.features) features.append(el("li", f, "chip"));
    const cpu = /swiftshader|llvmpipe|software|cpu/i.test(`${info.architecture} ${info.description}`);
    if (cpu) {
      // A CPU rasteriser: only the test preset trains at a pace anyone would wait for.
      byId<HTMLSelectElement>("set-preset").value = "tips-test";
      byId<HTMLInputElement>("set-batch").value = "4";
      byId<HTMLInputElement>("set-steps").value = "50";
      const note = byId("settings-note");
      note.textContent =
        "This adapter is a CPU rasteriser: tips-test trains at a few seconds per step; larger presets need a GPU.";
      note.hidden = false;
    }
  }

  // ---- start from a checkpoint ----

  /** Fills "Start from" with this browser's checkpoints, keeping the choice if it is still there. */
  private async listStartPoints(): Promise<void> {
    const select = byId<HTMLSelectElement>("set-start-from");
    const keep = select.value;
    const entries = await this.catalogue.list().catch(() => []);
    const fresh = el("option", "new model (random weights)");
    fresh.value = "";
    select.replaceChildren(fresh, ...entries.map(checkpointOption));
    select.value = entries.some((e) => e.id === keep) ? keep : "";
    this.startPointChanged();
  }

  /** A checkpoint's model fixes the preset: the form shows it and locks it. */
  private startPointChanged(): void {
    const chosen = byId<HTMLSelectElement>("set-start-from").selectedOptions[0];
    const presetOf = chosen?.dataset.preset;
    const note = byId("start-from-note");
    note.hidden = !presetOf;
    if (presetOf) {
      byId<HTMLSelectElement>("set-preset").value = presetOf;
      note.textContent =
        "Its model, teacher and vocabulary; the optimiser, schedule and data position start afresh.";
    }
    this.render();
  }

  // ---- controls ----

  private wire(): void {
    this.buttons.start.addEventListener("click", () => this.start());
    this.buttons.pause.addEventListener("click", () => this.command(() => this.worker.pause()));
    this.buttons.resume.addEventListener("click", () => this.command(() => this.worker.resume()));
    this.buttons.stop.addEventListener("click", () => this.command(() => this.worker.stop()));
    this.buttons.save.addEventListener("click", () => this.save());
    this.buttons.curves.addEventListener("click", () => this.downloadCurves());
    this.buttons.infer.addEventListener("click", () => this.openInInference());
    this.buttons.more.addEventListener("click", () => this.continueFinished());
    byId<HTMLInputElement>("loss-log").addEventListener("change", (ev) =>
      this.charts.loss.setLog((ev.target as HTMLInputElement).checked),
    );
    byId("run-error-dismiss").addEventListener("click", () => {
      byId("run-error").hidden = true;
    });
    byId("run-error-resume").addEventListener("click", () => {
      const id = byId("run-error-resume").dataset.id;
      if (id) this.resumeFrom(id);
    });
    window.addEventListener(CHECKPOINT_RENAMED, (ev) => {
      const renamed = (ev as CustomEvent<CheckpointEntry>).detail;
      if (this.checkpoint?.id !== renamed.id) return;
      // The run's next saves go on under the new name.
      this.checkpoint = renamed;
      this.showCheckpoint(renamed);
      byId<HTMLInputElement>("set-name").value = renamed.name;
    });
    for (const id of ["probe-every", "probe-query"])
      byId(id).addEventListener("change", () => this.probeSettingsChanged());
    byId("set-start-from").addEventListener("change", () => this.startPointChanged());
    window.addEventListener(CHECKPOINTS_CHANGED, () => this.listStartPoints());
    byId("set-preset").addEventListener("change", () => this.render());
  }

  private probeSettings(): ProbeSettings {
    const every = Number(byId<HTMLInputElement>("probe-every").value);
    return {
      every: Number.isInteger(every) && every >= 0 ? every : 0,
      query: byId<HTMLInputElement>("probe-query").value,
    };
  }

  /** New probe settings reach the worker; a run standing still refreshes its probes at once. */
  private async probeSettingsChanged(): Promise<void> {
    await this.worker.setProbe(this.probeSettings());
    if (this.state === "paused" || this.state === "done" || this.state === "stopped") {
      const report = await this.worker.probeNow().catch(() => null);
      if (report) this.probes.show(report);
    }
  }

  private settings(): TrainSettings | string {
    const num = (id: string) => Number(byId<HTMLInputElement>(id).value);
    const presetName = byId<HTMLSelectElement>("set-preset").value;
    const data = this.dataset.spec();
    if (typeof data === "string") return data;
    const s: TrainSettings = {
      preset: presetName,
      batch: num("set-batch"),
      steps: num("set-steps"),
      lr: num("set-lr"),
      seed: num("set-seed"),
      terms: {
        web: byId<HTMLInputElement>("set-term-web").checked,
        syn: byId<HTMLInputElement>("set-term-syn").checked,
        dino: byId<HTMLInputElement>("set-term-dino").checked,
        mim: byId<HTMLInputElement>("set-term-mim").checked,
        sparc: byId<HTMLInputElement>("set-term-sparc").checked,
        rils: byId<HTMLInputElement>("set-term-rils").checked,
      },
      teacher:
        (document.querySelector<HTMLInputElement>('input[name="teacher"]:checked')?.value as
          | "full"
          | "heads") ?? "full",
      saveEvery: num("set-save-every"),
      name: byId<HTMLInputElement>("set-name").value.trim(),
      data,
      startFrom: byId<HTMLSelectElement>("set-start-from").value || null,
    };
    if (!Number.isInteger(s.batch) || s.batch < 1) return "Batch must be a whole number of at least 1.";
    if (!Number.isInteger(s.steps) || s.steps < 1) return "Steps must be a whole number of at least 1.";
    if (!(s.lr > 0) || !Number.isFinite(s.lr)) return "The learning rate must be a positive number.";
    if (!Number.isInteger(s.seed) || s.seed < 0) return "The seed must be a whole number, 0 or more.";
    if (!Number.isInteger(s.saveEvery) || s.saveEvery < 0)
      return "Save every must be a whole number of steps (0: only on Save and at the end).";
    if (!LOSS_TERMS.some((t) => s.terms[t])) return "Switch at least one loss term on.";
    if (!s.name) {
      s.name = defaultRunName(presetName);
      byId<HTMLInputElement>("set-name").value = s.name;
    }
    return s;
  }

  private fillSettings(s: TrainSettings): void {
    byId<HTMLSelectElement>("set-preset").value = s.preset;
    byId<HTMLInputElement>("set-batch").value = String(s.batch);
    byId<HTMLInputElement>("set-steps").value = String(s.steps);
    byId<HTMLInputElement>("set-lr").value = String(s.lr);
    byId<HTMLInputElement>("set-seed").value = String(s.seed);
    for (const t of LOSS_TERMS) byId<HTMLInputElement>(`set-term-${t}`).checked = s.terms[t];
    for (const r of document.querySelectorAll<HTMLInputElement>('input[name="teacher"]'))
      r.checked = r.value === s.teacher;
    byId<HTMLInputElement>("set-name").value = s.name;
    byId<HTMLSelectElement>("set-start-from").value = s.startFrom ?? "";
    this.dataset.fill(s.data);
  }

  private async start(): Promise<void> {
    const settings = this.settings();
    if (typeof settings === "string") {
      this.showRunError("Check the settings", settings);
      return;
    }
    byId("run-error").hidden = true;
    this.beginRun("starting");
    try {
      await this.worker.setProbe(this.probeSettings());
      this.began(await this.worker.start(settings, this.onEvent));
    } catch (err) {
      this.state = "idle";
      this.showRunError("Could not start the run", errorMessage(err));
      this.render();
    }
  }

  /**
   * Continues a saved run (from the run-error box or the Checkpoints page); a finished one trains
   * on only when `more` steps are asked for.
   */
  async resumeFrom(id: string, more = 0): Promise<void> {
    if (this.state === "nogpu") return;
    if (ACTIVE.includes(this.state)) {
      this.showRunError("A run is in progress", "Stop it before resuming another checkpoint.");
      return;
    }
    byId("run-error").hidden = true;
    this.beginRun("starting");
    try {
      const saveEvery = Number(byId<HTMLInputElement>("set-save-every").value) || 0;
      await this.worker.setProbe(this.probeSettings());
      const info = await this.worker.resumeFrom(id, this.onEvent, saveEvery, this.dataset.files(), more);
      this.fillSettings(info.settings);
      this.charts.loss.load(info.history);
      this.charts.lr.load(info.history);
      this.charts.grad.load(info.history);
      this.charts.ips.load(info.history);
      byId("run-step").dataset.resumedFrom = String(info.step);
      if (info.extended) this.note(info.extended);
      this.began(info);
    } catch (err) {
      this.state = "idle";
      const lost = errorName(err) === "DeviceLostError";
      this.showRunError(
        lost
          ? "The GPU device was lost"
          : more > 0
            ? "Could not continue this run"
            : "Could not resume this checkpoint",
        errorMessage(err),
      );
      this.render();
    }
  }

  private beginRun(state: PageState): void {
    this.state = state;
    this.checkpoint = null;
    this.probes.clear();
    for (const c of Object.values(this.charts)) c.clear();
    for (const id of ["total", ...LOSS_TERMS, "lr", "grad", "ips"]) byId(`metric-${id}`).textContent = "—";
    byId("run-eta").textContent = "";
    byId("run-checkpoint").textContent = "not saved yet";
    this.note("");
    byId("run-step").removeAttribute("data-resumed-from");
    byId("run-step").removeAttribute("data-first-reported");
    this.setCounter("count-skipped", 0, "");
    this.setCounter("count-nan", 0, "");
    this.render();
  }

  private began(info: RunInfo): void {
    this.steps = info.settings.steps;
    this.checkpoint = info.checkpoint;
    this.lossToggles.setRunTerms(info.settings.terms);
    byId("run-params").textContent = `${(info.parameters / 1e6).toFixed(info.parameters < 1e6 ? 3 : 2)} M`;
    if (info.checkpoint) this.showCheckpoint(info.checkpoint);
    this.showStep(info.step);
    const steps = info.settings.steps;
    if (info.step >= steps) {
      // A finished run that was resumed: nothing runs, so nothing compiles.
      this.state = "done";
      byId("run-eta").textContent = `this run already finished at step ${info.step} of ${steps}`;
    } else if (!byId("run-step").dataset.firstReported) {
      // The first step compiles every kernel: on a CPU adapter that takes most of a minute.
      byId("run-eta").textContent = "compiling kernels for the first step…";
    }
    if (this.state === "starting") this.state = "running";
    this.render();
  }

  private async command(fn: () => Promise<void> | void): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.showRunError("The command failed", errorMessage(err));
    }
  }

  /** A line under the progress bar (empty: none). */
  private note(text: string): void {
    const note = byId("run-note");
    note.textContent = text;
    note.hidden = !text;
  }

  /** A finished run, loaded again from its checkpoint with the schedule stretched by the steps asked for. */
  private continueFinished(): void {
    const more = Number(byId<HTMLInputElement>("run-more").value);
    if (!Number.isInteger(more) || more < 1) {
      this.showRunError("Check the settings", "More steps must be a whole number of at least 1.");
      return;
    }
    if (this.checkpoint) this.resumeFrom(this.checkpoint.id, more);
  }

  /** Saves the model as it is now (unless its checkpoint already holds this step) and shows it on the Inference page. */
  private async openInInference(): Promise<void> {
    const step = Number(byId("run-step").dataset.step);
    this.buttons.infer.disabled = true;
    try {
      let entry = this.checkpoint;
      if (!entry || entry.step !== step)
        entry = await this.worker.save(
          byId<HTMLInputElement>("set-name").value.trim() || (entry?.name ?? ""),
        );
      this.openInference(entry.id);
    } catch (err) {
      this.showRunError("Could not save the model for the Inference page", errorMessage(err));
    } finally {
      this.render();
    }
  }

  /** The run's curves as a CSV file named after the run. */
  private async downloadCurves(): Promise<void> {
    try {
      const history = await this.worker.curves();
      if (!history) throw new Error("there is no run: start one or resume a checkpoint first");
      const run = {
        name: byId<HTMLInputElement>("set-name").value,
        step: Number(byId("run-step").dataset.step),
      };
      downloadBlob(new Blob([historyCsv(history)], { type: "text/csv" }), exportFileName(run, "-curves.csv"));
    } catch (err) {
      this.showRunError("Could not download the curves", errorMessage(err));
    }
  }

  private async save(): Promise<void> {
    const name = byId<HTMLInputElement>("set-name").value.trim();
    this.buttons.save.disabled = true;
    try {
      await this.worker.save(name);
    } catch (err) {
      const lost = errorName(err) === "DeviceLostError";
      this.showRunError(lost ? "The GPU device was lost" : "Could not save", errorMessage(err));
    } finally {
      this.render();
    }
  }

  // ---- what the worker reports ----

  private handle(e: TrainEvent): void {
    switch (e.type) {
      case "step":
        this.showReport(e.report);
        break;
      case "probe":
        this.probes.show(e.report);
        break;
      case "status":
        if (this.state !== "nogpu") this.state = e.status;
        this.showStep(e.step);
        if (e.status !== "running") byId("run-eta").textContent = "";
        this.render();
        break;
      case "saved":
        this.checkpoint = e.entry;
        this.showCheckpoint(e.entry);
        window.dispatchEvent(new CustomEvent(CHECKPOINTS_CHANGED));
        this.render();
        break;
      case "error": {
        const target = e.checkpoint ?? this.checkpoint;
        if (e.deviceLost) {
          const where = target
            ? `The last checkpoint is “${target.name}” at step ${target.step}: resume from it on a fresh device.`
            : "No checkpoint of this run was saved: start it again (set “Save every” to keep one as it goes).";
          const detail = e.error.message.replace(/[.\s]+$/, "");
          this.showRunError(
            "The GPU device was lost",
            `The GPU stopped (a driver reset, a watchdog timeout, or the tab in the background too long) ` +
              `and took this run's state with it. ${where} Details: ${detail}.`,
            target,
          );
        } else if (!e.fatal)
          this.showRunError(
            "Could not save a checkpoint",
            `${e.error.message}. Training goes on; free some storage (delete or export old checkpoints) and press Save.`,
          );
        else this.showRunError("Training stopped with an error", `${e.error.name}: ${e.error.message}`);
        break;
      }
    }
  }

  private showStep(step: number): void {
    const s = byId("run-step");
    s.dataset.step = String(step);
    s.dataset.steps = String(this.steps);
    s.textContent = this.steps ? `step ${step} / ${this.steps}` : "no run yet";
    const pct = this.steps ? (100 * step) / this.steps : 0;
    byId("run-bar").style.width = `${pct}%`;
    byId("run-bar").parentElement!.setAttribute("aria-valuenow", pct.toFixed(0));
  }

  private showReport(r: StepReport): void {
    const m = r.metrics;
    this.steps = r.steps;
    this.showStep(m.step + 1);
    byId("metric-total").textContent = formatValue(m.loss.total);
    for (const t of LOSS_TERMS) byId(`metric-${t}`).textContent = formatValue(m.loss[t]);
    byId("metric-lr").textContent = m.lr.toExponential(2);
    byId("metric-grad").textContent = m.skipped ? "skipped" : formatValue(m.gradNorm, 3);
    const ips = r.imagesPerSecond;
    byId("metric-ips").textContent = ips === null ? "—" : ips.toFixed(ips < 10 ? 2 : 1);
    const stepEl = byId("run-step");
    stepEl.dataset.firstReported ??= String(m.step + 1);
    byId("run-eta").textContent =
      r.etaSeconds === null || m.step + 1 >= r.steps ? "" : `ETA ${formatDuration(r.etaSeconds)}`;
    const skips = Object.entries(r.skippedSamples).filter(([, n]) => n > 0);
    this.setCounter(
      "count-skipped",
      skips.reduce((n, [, k]) => n + k, 0),
      skips.map(([reason, n]) => `${reason.replaceAll("_", " ")}: ${n}`).join(", "),
    );
    this.setCounter("count-nan", r.nanSkips, "");
    const x = m.step + 1;
    this.charts.loss.push(x, { ...m.loss });
    this.charts.lr.push(x, { lr: m.lr });
    this.charts.grad.push(x, { gradNorm: m.skipped ? null : m.gradNorm });
    this.charts.ips.push(x, { imagesPerSecond: r.imagesPerSecond });
  }

  private setCounter(id: string, n: number, detail: string): void {
    const c = byId(id);
    c.dataset.count = String(n);
    c.textContent = detail ? `${n} (${detail})` : String(n);
    c.classList.toggle("warn", n > 0);
  }

  private showCheckpoint(entry: CheckpointEntry): void {
    byId("run-checkpoint").textContent = `“${entry.name}” at step ${entry.step} (${stamp(entry.date)})`;
  }

  private showRunError(title: string, message: string, resumeFrom?: CheckpointEntry | null): void {
    byId("run-error-title").textContent = title;
    byId("run-error-message").textContent = message;
    const button = byId<HTMLButtonElement>("run-error-resume");
    button.hidden = !resumeFrom;
    if (resumeFrom) {
      button.dataset.id = resumeFrom.id;
      button.textContent = `Resume from “${resumeFrom.name}” (step ${resumeFrom.step})`;
    }
    byId("run-error").hidden = false;
  }

  /** Enables what the state allows. */
  private render(): void {
    const s = this.state;
    const b = this.buttons;
    const active = ACTIVE.includes(s);
    b.start.disabled = s === "nogpu" || s === "connecting" || active;
    b.pause.disabled = s !== "running";
    b.resume.disabled = s !== "paused";
    b.stop.disabled = !(s === "running" || s === "paused" || s === "pausing");
    b.save.disabled = !(s === "running" || s === "paused" || s === "stopped" || s === "done");
    b.curves.disabled = !(active || s === "stopped" || s === "done" || s === "failed");
    b.infer.disabled = !(s === "paused" || s === "stopped" || s === "done");
    // A finished run with its final checkpoint can go on for more steps.
    const finished = s === "done" && this.checkpoint !== null && this.checkpoint.step >= this.steps;
    byId("run-continue").hidden = !finished;
    b.more.disabled = !finished;
    for (const input of byId("train-settings").querySelectorAll<HTMLInputElement | HTMLSelectElement>(
      "input, select",
    )) {
      if (input.id === "set-name") input.disabled = s === "nogpu";
      else input.disabled = active || s === "nogpu" || s === "connecting";
    }
    // The model of a checkpoint fixes its preset.
    if (byId<HTMLSelectElement>("set-start-from").value)
      byId<HTMLSelectElement>("set-preset").disabled = true;
    // The name an unnamed run gets, for the preset shown now.
    byId<HTMLInputElement>("set-name").placeholder = defaultRunName(
      byId<HTMLSelectElement>("set-preset").value,
    );
    this.dataset.disable(active || s === "nogpu" || s === "connecting");
    const pill = byId("run-status");
    const label: Record<PageState, string> = {
      nogpu: "no GPU",
      connecting: "connecting",
      idle: "idle",
      starting: "starting",
      running: "training",
      pausing: "pausing",
      paused: "paused",
      stopping: "stopping",
      stopped: "stopped",
      done: "finished",
      failed: "failed",
    };
    pill.dataset.status = s;
    pill.textContent = label[s];
  }
}
