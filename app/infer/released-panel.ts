// The Inference page's "Released models by URL": pick one of the official TIPS / TIPSv2 releases
// (or type the URLs of any compatible files), see what it downloads and what it needs of the GPU
// before anything is fetched, download it with a progress bar that can be cancelled, and keep
// the files once the loaders have accepted them so that the next visit downloads nothing.
import { byId, el, errorMessage, formatBytes, formatDuration } from "../common/dom";
import {
  cachedFile,
  cachedSize,
  type DownloadProgress,
  download,
  fileName,
  keepFile,
  remoteSize,
} from "./download";
import { bufferLimit, RELEASED, type ReleasedModel, releasedGpuBytes, releasedThatFit } from "./released";

const PARTS = ["vision", "text", "tokenizer"] as const;
type Part = (typeof PARTS)[number];
type Urls = Record<Part, string>;

/** Loads the three files as an encoder; false when it was refused (the page shows why). */
export type LoadOfficial = (
  vision: Uint8Array,
  text: Uint8Array,
  tokenizer: Uint8Array,
  name: string,
) => Promise<boolean>;

export class ReleasedPanel {
  private inspected = 0;
  private transfer: AbortController | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly limits: () => Promise<Record<string, number>>,
    private readonly load: LoadOfficial,
    private readonly showError: (message: string) => void,
  ) {
    const select = byId<HTMLSelectElement>("infer-release");
    const none = el("option", "choose a released model…");
    none.value = "";
    select.replaceChildren(
      none,
      ...RELEASED.map((m, i) => {
        const o = el(
          "option",
          `${m.label} · ${((m.visionParams + m.textParams) / 1e6).toFixed(0)} M parameters`,
        );
        o.value = String(i);
        return o;
      }),
    );
    select.addEventListener("change", () => {
      const m = RELEASED[Number(select.value)];
      for (const part of PARTS) this.input(part).value = select.value ? m[part] : "";
      this.inspect();
    });
    for (const part of PARTS)
      this.input(part).addEventListener("input", () => {
        select.value = "";
        clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.timer = undefined;
          void this.inspect();
        }, 500);
      });
    byId("infer-url-load").addEventListener("click", () => this.downloadAndLoad());
    byId("infer-url-cancel").addEventListener("click", () => this.transfer?.abort());
  }

  private input(part: Part): HTMLInputElement {
    return byId<HTMLInputElement>(`infer-url-${part}`);
  }

  /** The three URLs, or what is missing or malformed. */
  private urls(): Urls | string {
    const what: Record<Part, string> = {
      vision: "the image encoder .npz",
      text: "the text encoder .npz",
      tokenizer: "tokenizer.model",
    };
    const out = {} as Urls;
    for (const part of PARTS) {
      const value = this.input(part).value.trim();
      if (!value) return `Give the URL of ${what[part]}, or choose a released model.`;
      try {
        out[part] = new URL(value, location.href).href;
      } catch {
        return `“${value}” is not a URL: give the address of ${what[part]}.`;
      }
    }
    return out;
  }

  /** The release these URLs are, if they are one. */
  private release(urls: Urls): ReleasedModel | undefined {
    return RELEASED.find((m) => m.vision === urls.vision && m.text === urls.text);
  }

  private info(text: string, fits: boolean | null): void {
    const info = byId("infer-url-info");
    info.textContent = text;
    info.classList.toggle("warn", fits === false);
    if (fits === null) info.removeAttribute("data-fits");
    else info.dataset.fits = String(fits);
    byId<HTMLButtonElement>("infer-url-load").disabled = fits === false || this.transfer !== null;
  }

  /**
   * Before any download: the bytes to fetch (HEAD, or the copies kept in this browser) and the
   * GPU buffer the encoder needs, refused with what would fit when this adapter cannot hold it.
   */
  async inspect(): Promise<void> {
    const mine = ++this.inspected;
    const urls = this.urls();
    if (typeof urls === "string") {
      this.info(urls, null);
      return;
    }
    const release = this.release(urls);
    const limit = bufferLimit(await this.limits());
    if (mine !== this.inspected) return;
    // A release's size is known from its parameter count: too large is said before any request.
    if (release && releasedGpuBytes(release) > limit) {
      this.refuse(release.label, releasedGpuBytes(release), limit);
      return;
    }
    this.info("checking the files' sizes…", null);
    let sizes: { size: number | null; kept: boolean }[];
    try {
      sizes = await Promise.all(
        PARTS.map(async (part) => {
          const kept = await cachedSize(urls[part]);
          return kept === null
            ? { size: await remoteSize(urls[part]), kept: false }
            : { size: kept, kept: true };
        }),
      );
    } catch (err) {
      if (mine !== this.inspected) return;
      const need = release
        ? ` ${release.label} is about ${formatBytes(releasedGpuBytes(release))}, and needs one GPU buffer of that size.`
        : "";
      this.info(`${errorMessage(err)}${need}`, null);
      return;
    }
    if (mine !== this.inspected) return;
    const [vision, text] = sizes;
    // The .npz files hold f32 arrays: their sizes are the buffer's, near enough.
    const need = release
      ? releasedGpuBytes(release)
      : vision.size !== null && text.size !== null
        ? vision.size + text.size
        : null;
    const name = release?.label ?? "this model";
    if (need !== null && need > limit) {
      this.refuse(name, need, limit);
      return;
    }
    const toFetch = sizes.filter((s) => !s.kept);
    const bytes = toFetch.reduce((n, s) => n + (s.size ?? 0), 0);
    const unknown = toFetch.some((s) => s.size === null);
    const download =
      toFetch.length === 0
        ? "all 3 files are kept in this browser: nothing to download"
        : `${formatBytes(bytes)}${unknown ? " and more (a server gives no size)" : ""} to download` +
          (toFetch.length < 3 ? ` (${3 - toFetch.length} of 3 files kept in this browser)` : "");
    this.info(
      `${download}; ${name} needs one GPU buffer of ${need === null ? "unknown size" : `about ${formatBytes(need)}`} ` +
        `(this adapter allows ${formatBytes(limit)}).`,
      true,
    );
  }

  /** A model this adapter cannot hold, with the released ones it can. */
  private refuse(name: string, need: number, limit: number): void {
    const fit = releasedThatFit(limit).map((m) => m.label);
    this.info(
      `Too large for this GPU: ${name} needs one buffer of about ${formatBytes(need)}, and this adapter allows at most ` +
        `${formatBytes(limit)} per buffer. ${fit.length ? `These fit: ${fit.join(", ")}.` : "None of the released models fits."}`,
      false,
    );
  }

  private progress(index: number, url: string, p: DownloadProgress): void {
    const bar = byId<HTMLProgressElement>("infer-url-progress");
    if (p.total) {
      bar.max = p.total;
      bar.value = p.received;
    } else bar.removeAttribute("value");
    const left =
      p.total && p.bytesPerSecond > 0
        ? ` · ${formatDuration((p.total - p.received) / p.bytesPerSecond)} left`
        : "";
    byId("infer-url-progress-text").textContent =
      `${fileName(url)} (${index + 1} of 3): ${formatBytes(p.received)}${p.total ? ` of ${formatBytes(p.total)}` : ""} · ` +
      `${formatBytes(Math.round(p.bytesPerSecond))}/s${left}`;
  }

  /** Downloads what is not kept yet, loads the encoder, and keeps the files once it loaded. */
  private async downloadAndLoad(): Promise<void> {
    const urls = this.urls();
    if (typeof urls === "string") {
      this.showError(urls);
      return;
    }
    const transfer = new AbortController();
    this.transfer = transfer;
    // A size check still pending from typing would rewrite the paragraph above the buttons while
    // the transfer runs, moving Cancel under the pointer: it runs when the transfer ends instead.
    const checkPending = this.timer !== undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    const box = byId("infer-url-transfer");
    const status = byId("infer-url-progress-text");
    box.hidden = false;
    box.removeAttribute("data-downloaded");
    byId("infer-url-cancel").hidden = false;
    byId<HTMLButtonElement>("infer-url-load").disabled = true;
    status.textContent = "starting…";
    try {
      const files: Uint8Array[] = [];
      const fetched: number[] = [];
      for (const [i, part] of PARTS.entries()) {
        const kept = await cachedFile(urls[part]);
        if (kept) files.push(kept);
        else {
          files.push(await download(urls[part], transfer.signal, (p) => this.progress(i, urls[part], p)));
          fetched.push(i);
        }
      }
      byId("infer-url-cancel").hidden = true;
      const downloaded = fetched.reduce((n, i) => n + files[i].length, 0);
      status.textContent = "checking the files…";
      const name = this.release(urls)?.label ?? `${fileName(urls.vision)} + ${fileName(urls.text)}`;
      if (!(await this.load(files[0], files[1], files[2], name))) {
        status.textContent = "the files were refused: nothing was kept";
        return;
      }
      await Promise.all(fetched.map((i) => keepFile(urls[PARTS[i]], files[i])));
      box.dataset.downloaded = String(downloaded);
      status.textContent = fetched.length
        ? `downloaded ${formatBytes(downloaded)} and kept the files in this browser for the next visit`
        : "read from this browser's copy: nothing was downloaded";
    } catch (err) {
      status.textContent = "stopped";
      this.showError(errorMessage(err));
    } finally {
      this.transfer = null;
      byId("infer-url-cancel").hidden = true;
      byId<HTMLButtonElement>("infer-url-load").disabled = byId("infer-url-info").dataset.fits === "false";
      if (checkPending) void this.inspect();
    }
  }
}
