// The Inference page: a frozen encoder (one of this browser's checkpoints, a .safetensors file,
// or the official TIPS .npz pair with its tokenizer.model) run on any image. It shows the image,
// the PCA of its patch features as RGB, a text query's similarity over the patches, a zero-shot
// segmentation over typed class names, and CLS#1 / CLS#2 similarities to typed captions. The
// worker owns the GPU, the model and the features; this page only draws.
import * as Comlink from "comlink";
import { evalTableRows } from "../../src/eval/report";
import { CheckpointCatalogue } from "../../src/train/catalogue";
import { byId, checkpointOption, deviceName, el, errorMessage } from "../common/dom";
import {
  drawGrid,
  drawHeatmap,
  drawPixels,
  drawSegmentation,
  heatScale,
  segmentationLegend,
} from "../common/maps-view";
import type { EncoderInfo, ImageReport } from "./api";
import { CaptionTable } from "./caption-table";
import { ReleasedPanel } from "./released-panel";
import type { InferApi } from "./worker";

const DEFAULT_QUERY = "a red circle";

function lines(text: string): string[] {
  return text
    .split(/\n/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The inputs whose errors the image's error box shows. */
type InputKind = "image" | "query" | "segment" | "captions";

/** Runs the latest call only: a newer call (or `cancel`) makes an older one's result stale. */
class Latest {
  private version = 0;
  cancel(): void {
    this.version++;
  }
  async run<T>(fn: () => Promise<T>, apply: (v: T) => void, fail: (err: unknown) => void): Promise<void> {
    const mine = ++this.version;
    try {
      const v = await fn();
      if (mine === this.version) apply(v);
    } catch (err) {
      if (mine === this.version) fail(err);
    }
  }
}

export class InferPage {
  private readonly worker: Comlink.Remote<InferApi>;
  private readonly catalogue = new CheckpointCatalogue();
  private encoder: EncoderInfo | null = null;
  private hasImage = false;
  /** The caption check runs once an encoder has drawn its first maps (they come first). */
  private textCheckDue = false;
  private report: ImageReport | null = null;
  private readonly captionTable = new CaptionTable();
  /** What went wrong with the latest input of each kind, shown together in the image's error box. */
  private readonly imageErrors = new Map<InputKind, string>();
  private readonly latest = {
    image: new Latest(),
    embed: new Latest(),
    query: new Latest(),
    segment: new Latest(),
    captions: new Latest(),
    textCheck: new Latest(),
  };
  private timers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(private readonly onGpuError: (err: unknown) => void) {
    const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    worker.addEventListener("error", (ev) =>
      this.showError(
        "infer-encoder-error",
        `the inference worker failed: ${ev.message || "it did not load"}`,
      ),
    );
    this.worker = Comlink.wrap<InferApi>(worker);
    new ReleasedPanel(
      async () => (await this.worker.info()).limits,
      (vision, text, tokenizer, name) => {
        const heads = this.officialHeads();
        if (heads === null) return Promise.resolve(false);
        return this.loadEncoder(() => this.worker.loadOfficial(vision, text, tokenizer, name, heads), name);
      },
      (message) => this.showError("infer-encoder-error", message),
    );
    heatScale(byId<HTMLCanvasElement>("infer-heat-scale"));
    byId<HTMLInputElement>("infer-query").value = DEFAULT_QUERY;
    this.wire();
  }

  async init(): Promise<void> {
    await this.shown();
    try {
      byId("infer-gpu").textContent = deviceName(await this.worker.info());
      byId("infer-gpu").classList.remove("muted");
    } catch (err) {
      byId("infer-gpu").textContent = "no WebGPU device: the encoder cannot run";
      this.onGpuError(err);
      for (const b of document.querySelectorAll<HTMLButtonElement>("#page-infer button")) b.disabled = true;
    }
  }

  /** Called whenever the page is shown: the checkpoint list may have changed elsewhere. */
  async shown(): Promise<void> {
    const select = byId<HTMLSelectElement>("infer-checkpoint");
    const keep = select.value;
    try {
      const entries = await this.catalogue.list();
      select.replaceChildren(...entries.map(checkpointOption));
      if (entries.some((e) => e.id === keep)) select.value = keep;
      select.disabled = entries.length === 0;
      byId("infer-no-checkpoints").hidden = entries.length > 0;
      byId<HTMLButtonElement>("infer-load-checkpoint").disabled = entries.length === 0;
    } catch (err) {
      this.showError(
        "infer-encoder-error",
        `This browser's checkpoints cannot be read: ${errorMessage(err)}`,
      );
    }
  }

  /**
   * The guided path from the Train and Checkpoints pages: loads a checkpoint of this browser and
   * shows a held-out scene with a query naming one of its objects.
   */
  async openCheckpoint(id: string): Promise<void> {
    await this.shown();
    const select = byId<HTMLSelectElement>("infer-checkpoint");
    select.value = id;
    if (select.value !== id) {
      this.showError("infer-encoder-error", "This checkpoint is no longer in this browser: it was deleted.");
      return;
    }
    // The scene below replaces the image: the encoder is not run on the old one first.
    if (!(await this.loadEncoder(() => this.worker.loadCatalogued(id), "the checkpoint", false))) return;
    // A refresh of the list that was under way may have put back the choice it found.
    select.value = id;
    await this.loadSample(true);
  }

  /** Measures the loaded encoder on held-out scenes (the worker runs evaluate()). */
  private async evaluate(): Promise<void> {
    const number = (id: string, min: number, max: number) => {
      const input = byId<HTMLInputElement>(id);
      const v = Number(input.value);
      if (!Number.isInteger(v) || v < min || v > max)
        throw new Error(
          `${input.closest("label")?.textContent?.trim()} takes a whole number from ${min} to ${max}`,
        );
      return v;
    };
    const button = byId<HTMLButtonElement>("infer-eval-run");
    const status = byId("infer-eval-status");
    byId("infer-eval-error").hidden = true;
    button.disabled = true;
    try {
      const settings = {
        train: number("infer-eval-train", 2, 4096),
        test: number("infer-eval-test", 2, 1000),
        probeSteps: number("infer-eval-steps", 1, 10000),
      };
      status.textContent = "evaluating…";
      const result = await this.worker.evaluate(
        settings,
        Comlink.proxy((line: string) => {
          status.textContent = line;
        }),
      );
      byId("infer-eval-rows").replaceChildren(
        ...evalTableRows(result).map((cells) => {
          const row = el("tr");
          for (const [i, text] of cells.entries()) row.append(el("td", text, i === 1 ? "num" : ""));
          return row;
        }),
      );
      byId("infer-eval-table").hidden = false;
      status.textContent = `${this.encoder?.name}: ${result.setup.train} train / ${result.setup.test} held-out scenes at ${result.setup.size} px, ${result.seconds.toFixed(1)} s`;
    } catch (err) {
      status.textContent = "not evaluated";
      this.showError("infer-eval-error", errorMessage(err));
    } finally {
      button.disabled = !this.encoder;
    }
  }

  private wire(): void {
    byId("infer-eval-run").addEventListener("click", () => this.evaluate());
    byId("infer-load-checkpoint").addEventListener("click", () => {
      const select = byId<HTMLSelectElement>("infer-checkpoint");
      if (select.value) this.loadEncoder(() => this.worker.loadCatalogued(select.value), "the checkpoint");
    });
    byId<HTMLInputElement>("infer-file").addEventListener("change", async (ev) => {
      const input = ev.target as HTMLInputElement;
      const file = input.files?.[0];
      input.value = "";
      if (!file) return;
      const bytes = new Uint8Array(await file.arrayBuffer());
      this.loadEncoder(
        () => this.worker.loadFile(Comlink.transfer(bytes, [bytes.buffer]), file.name),
        file.name,
      );
    });
    byId("infer-load-official").addEventListener("click", () => this.loadOfficial());
    byId<HTMLInputElement>("infer-image-file").addEventListener("change", (ev) => {
      const input = ev.target as HTMLInputElement;
      const file = input.files?.[0];
      input.value = "";
      if (file) this.loadImageFile(file);
    });
    const drop = byId("infer-drop");
    drop.addEventListener("dragover", (ev) => {
      ev.preventDefault();
      drop.classList.add("over");
    });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (ev) => {
      ev.preventDefault();
      drop.classList.remove("over");
      const file = ev.dataTransfer?.files[0];
      if (file) this.loadImageFile(file);
      else this.setImageError("image", "Nothing to use was dropped: drop an image file.");
    });
    window.addEventListener("paste", (ev) => {
      if (byId("page-infer").hidden) return;
      const file = [...(ev.clipboardData?.files ?? [])].find((f) => f.type.startsWith("image/"));
      if (!file) return;
      ev.preventDefault();
      this.loadImageFile(file);
    });
    byId("infer-sample").addEventListener("click", () => this.loadSample());
    byId("infer-size").addEventListener("change", () => this.embed());
    this.debounced("infer-query", "input", () => this.runQuery());
    this.debounced("infer-classes", "input", () => this.runSegment());
    this.debounced("infer-captions", "input", () => this.runCaptions());
  }

  private debounced(id: string, event: string, fn: () => void): void {
    byId(id).addEventListener(event, () => {
      clearTimeout(this.timers.get(id));
      this.timers.set(id, setTimeout(fn, 300));
    });
  }

  private showError(id: string, message: string): void {
    const box = byId(id);
    box.querySelector("p")!.textContent = message;
    box.hidden = false;
  }

  /** Sets (or with null clears) what is wrong with one kind of input, and shows what remains. */
  private setImageError(kind: InputKind, message: string | null): void {
    if (message === null) this.imageErrors.delete(kind);
    else this.imageErrors.set(kind, message);
    const box = byId("infer-image-error");
    box.querySelector("p")!.textContent = [...this.imageErrors.values()].join(" ");
    box.hidden = this.imageErrors.size === 0;
  }

  private status(text: string): void {
    byId("infer-status").textContent = text;
  }

  // ---- the encoder ----

  /**
   * Loads an encoder and (`embed`) runs it on the current image; false (and the reason shown)
   * when it could not be loaded.
   */
  private async loadEncoder(load: () => Promise<EncoderInfo>, what: string, embed = true): Promise<boolean> {
    byId("infer-encoder-error").hidden = true;
    this.status(`loading ${what}…`);
    try {
      this.showEncoder(await load(), embed);
      return true;
    } catch (err) {
      this.status(this.encoder ? `still using ${this.encoder.name}` : "no encoder loaded");
      this.showError("infer-encoder-error", `${what}: ${errorMessage(err)}`);
      return false;
    }
  }

  /** The attention heads typed for official files (undefined: official sizes); null (and said) when invalid. */
  private officialHeads(): number | undefined | null {
    const text = byId<HTMLInputElement>("infer-official-heads").value.trim();
    const heads = text ? Number(text) : undefined;
    if (heads !== undefined && !(Number.isInteger(heads) && heads > 0)) {
      this.showError(
        "infer-encoder-error",
        "Attention heads must be a whole number (or empty for official sizes).",
      );
      return null;
    }
    return heads;
  }

  private async loadOfficial(): Promise<void> {
    const file = (id: string) => byId<HTMLInputElement>(id).files?.[0] ?? null;
    const vision = file("infer-official-vision");
    const text = file("infer-official-text");
    const tokenizer = file("infer-official-tokenizer");
    const missing = [
      vision ? "" : "the image encoder .npz",
      text ? "" : "the text encoder .npz",
      tokenizer ? "" : "tokenizer.model (the SentencePiece model the text encoder was trained with)",
    ].filter(Boolean);
    if (missing.length) {
      this.showError("infer-encoder-error", `Choose ${missing.join(", and ")} to load the official release.`);
      return;
    }
    const heads = this.officialHeads();
    if (heads === null) return;
    const bytes = await Promise.all(
      [vision!, text!, tokenizer!].map(async (f) => new Uint8Array(await f.arrayBuffer())),
    );
    const names = `${vision!.name} + ${text!.name}`;
    this.loadEncoder(
      () => this.worker.loadOfficial(bytes[0], bytes[1], bytes[2], names, heads),
      "the official files",
    );
  }

  private showEncoder(info: EncoderInfo, embed: boolean): void {
    this.encoder = info;
    byId<HTMLButtonElement>("infer-eval-run").disabled = false;
    byId("infer-eval-status").textContent = `${info.name}, not evaluated yet`;
    byId("infer-eval-table").hidden = true;
    const facts = byId("infer-model");
    facts.replaceChildren();
    const add = (term: string, value: string) => facts.append(el("dt", term), el("dd", value));
    add("encoder", info.name);
    add("model", `${info.preset} · ViT width ${info.width}, depth ${info.depth}, patch ${info.patchSize}`);
    add("text", `width ${info.textWidth}, ${info.textLength} tokens · ${info.tokenizer}`);
    add("parameters", `${(info.parameters / 1e6).toFixed(info.parameters < 1e6 ? 3 : 2)} M`);
    facts.dataset.name = info.name;
    const size = byId<HTMLSelectElement>("infer-size");
    const previous = Number(size.value);
    size.replaceChildren(
      ...info.sizes.map((s) => {
        const o = el(
          "option",
          `${s} × ${s} px (${s / info.patchSize} × ${s / info.patchSize} patches)${s === info.imageSize ? " · trained" : ""}`,
        );
        o.value = String(s);
        return o;
      }),
    );
    size.value = info.sizes.includes(previous) ? String(previous) : String(info.imageSize);
    size.disabled = false;
    this.status(`${info.name} loaded`);
    const check = byId("infer-text-check");
    check.hidden = true;
    check.removeAttribute("data-r1");
    check.removeAttribute("data-at-chance");
    this.textCheckDue = true;
    if (embed && this.hasImage) this.embed();
  }

  /**
   * Caption retrieval on held-out scenes: at chance, the text side has learned nothing yet and the
   * text maps mean nothing, which the page says rather than let them be read as results.
   */
  private checkText(): void {
    const box = byId("infer-text-check");
    this.latest.textCheck.run(
      () => this.worker.textCheck(),
      (c) => {
        const hits = (r: number) => Math.round(r * c.scenes);
        const best = Math.max(hits(c.cls1), hits(c.cls2));
        box.dataset.r1 = String(best);
        // A random encoder retrieves 1 of them on average, and 3 or more about 1 time in 14.
        const atChance = best < 3;
        box.dataset.atChance = String(atChance);
        box.textContent = atChance
          ? `Too undertrained for text maps: on ${c.scenes} held-out scenes its captions are retrieved at chance ` +
            `(CLS#1 ${hits(c.cls1)}, CLS#2 ${hits(c.cls2)} of ${c.scenes}; chance 1), so the query heatmap and the ` +
            "segmentation mean little yet. Train it longer (Continue on the Train page) or load a released model."
          : `Caption retrieval on ${c.scenes} held-out scenes: CLS#1 ${hits(c.cls1)}, CLS#2 ${hits(c.cls2)} of ${c.scenes} (chance 1).`;
        box.classList.toggle("warn", atChance);
        box.hidden = false;
      },
      (err) => {
        box.textContent = `The caption check on held-out scenes failed: ${errorMessage(err)}`;
        box.classList.add("warn");
        box.hidden = false;
      },
    );
  }

  // ---- the image ----

  private loadImageFile(file: File): Promise<void> {
    const name = file.name || "the pasted image";
    return this.loadImage(
      async () => {
        const bytes = new Uint8Array(await file.arrayBuffer());
        return this.worker.loadImage(Comlink.transfer(bytes, [bytes.buffer]), name);
      },
      (err) => `${name}: ${errorMessage(err)}.`,
    );
  }

  /** The next held-out scene; `withQuery` also types a query naming its nearest object. */
  private loadSample(withQuery = false): Promise<void> {
    const index = Number(byId("infer-sample").dataset.next ?? 0);
    byId("infer-sample").dataset.next = String(index + 1);
    return this.loadImage(
      async () => {
        const sample = await this.worker.loadSample(index);
        byId<HTMLTextAreaElement>("infer-classes").value = sample.classes.join("\n");
        byId<HTMLTextAreaElement>("infer-captions").value = sample.captions.join("\n");
        if (withQuery) byId<HTMLInputElement>("infer-query").value = sample.query;
        return sample;
      },
      (err) => `The held-out scene failed: ${errorMessage(err)}.`,
    );
  }

  /**
   * A new image replaces the old one whether or not it loads: every map, and every error about
   * the old image or its texts, goes; an image that fails leaves no maps, only what is wrong.
   */
  private loadImage(
    load: () => Promise<{ name: string; width: number; height: number }>,
    failure: (err: unknown) => string,
  ): Promise<void> {
    this.imageErrors.clear();
    this.setImageError("image", null);
    this.hasImage = false;
    this.showNoMaps();
    byId("infer-image-name").textContent = "loading…";
    return this.latest.image.run(
      load,
      (loaded) => {
        byId("infer-image-name").textContent = `${loaded.name} · ${loaded.width} × ${loaded.height}`;
        this.hasImage = true;
        this.embed();
      },
      (err) => {
        byId("infer-image-name").textContent = "JPEG, PNG or WebP";
        this.setImageError("image", failure(err));
        this.status("choose an image");
      },
    );
  }

  /** No image: the maps of an earlier one are hidden, and their late results dropped. */
  private showNoMaps(): void {
    this.report = null;
    for (const l of Object.values(this.latest)) if (l !== this.latest.image) l.cancel();
    byId("infer-results").hidden = true;
    byId("infer-placeholder").hidden = false;
  }

  private embed(): Promise<void> {
    if (!this.encoder || !this.hasImage) {
      this.status(this.encoder ? "choose an image" : "load an encoder");
      return Promise.resolve();
    }
    const size = Number(byId<HTMLSelectElement>("infer-size").value);
    this.status(`running the encoder at ${size} × ${size}…`);
    // The maps shown belong to the previous encoder or resolution until this run ends: dimmed.
    const results = byId("infer-results");
    results.classList.add("pending");
    return this.latest.embed.run(
      () => this.worker.embed(size),
      (r) => {
        results.classList.remove("pending");
        this.report = r;
        this.setImageError("image", null);
        byId("infer-results").hidden = false;
        byId("infer-placeholder").hidden = true;
        drawPixels(byId("infer-view"), r.view.side, r.view.data);
        const pcaCanvas = byId<HTMLCanvasElement>("infer-pca");
        drawGrid(pcaCanvas, r.view.side, r.grid, r.pca);
        pcaCanvas.dataset.size = String(r.size);
        byId("infer-pca-note").textContent =
          `${r.grid} × ${r.grid} patches · components explain ${r.explained.map((v) => `${Math.round(100 * v)}%`).join(", ")} of the variance`;
        this.status(
          `${this.encoder!.name} at ${r.size} × ${r.size}: forward ${Math.round(r.forwardMs)} ms, PCA ${Math.round(r.pcaMs)} ms`,
        );
        byId("infer-results").dataset.size = String(r.size);
        this.runQuery();
        this.runSegment();
        this.runCaptions();
        if (this.textCheckDue) {
          this.textCheckDue = false;
          this.checkText();
        }
      },
      (err) => {
        results.classList.remove("pending");
        this.status("the encoder failed on this image");
        this.showNoMaps();
        this.setImageError("image", errorMessage(err));
      },
    );
  }

  // ---- maps and captions ----

  private runQuery(): void {
    const r = this.report;
    if (!r) return;
    const text = byId<HTMLInputElement>("infer-query").value.trim();
    const canvas = byId<HTMLCanvasElement>("infer-heat");
    if (!text) {
      // No query, no heatmap: the image alone, and no range.
      this.latest.query.cancel();
      this.setImageError("query", null);
      drawPixels(canvas, r.view.side, r.view.data);
      canvas.dataset.query = "";
      byId("infer-heat-lo").textContent = "—";
      byId("infer-heat-hi").textContent = "—";
      return;
    }
    this.latest.query.run(
      () => this.worker.query(text),
      (values) => {
        this.setImageError("query", null);
        const [lo, hi] = drawHeatmap(canvas, r.view, r.grid, values);
        canvas.dataset.query = text;
        canvas.dataset.size = String(r.size);
        byId("infer-heat-lo").textContent = lo.toFixed(2);
        byId("infer-heat-hi").textContent = hi.toFixed(2);
      },
      (err) => this.setImageError("query", `The text query failed: ${errorMessage(err)}.`),
    );
  }

  private runSegment(): void {
    const r = this.report;
    if (!r) return;
    const classes = lines(byId<HTMLTextAreaElement>("infer-classes").value);
    const canvas = byId<HTMLCanvasElement>("infer-seg");
    if (classes.length === 0) {
      // No classes, no segmentation: the image alone, and an empty legend.
      this.latest.segment.cancel();
      this.setImageError("segment", null);
      drawPixels(canvas, r.view.side, r.view.data);
      canvas.dataset.classes = "0";
      byId("infer-legend").replaceChildren(el("li", "type class names, one per line", "muted"));
      return;
    }
    this.latest.segment.run(
      () => this.worker.segment(classes),
      (s) => {
        this.setImageError("segment", null);
        drawSegmentation(canvas, r.view, r.grid, s.labels);
        canvas.dataset.classes = String(classes.length);
        canvas.dataset.size = String(r.size);
        segmentationLegend(byId("infer-legend"), classes, s.counts);
      },
      (err) => this.setImageError("segment", `The segmentation failed: ${errorMessage(err)}.`),
    );
  }

  private runCaptions(): void {
    if (!this.report) return;
    const captions = lines(byId<HTMLTextAreaElement>("infer-captions").value);
    if (captions.length === 0) {
      this.latest.captions.cancel();
      this.setImageError("captions", null);
      this.captionTable.clear();
      return;
    }
    this.latest.captions.run(
      () => this.worker.captions(captions),
      (c) => {
        this.setImageError("captions", null);
        this.captionTable.show(captions, c);
      },
      (err) => this.setImageError("captions", `The captions failed: ${errorMessage(err)}.`),
    );
  }
}
