// The Checkpoints page: this browser's checkpoints (IndexedDB, src/train/catalogue.ts) with
// rename, delete, export and import, resume (on the Train page) and the storage they use.
// Imports are validated in a small worker, off this thread. The trainer worker writes new saves;
// the Train page announces them with a "tips:checkpoints-changed" event on window.
import * as Comlink from "comlink";
import { CheckpointCatalogue, type CheckpointEntry, exportFileName } from "../../src/train/catalogue";
import { byId, downloadBlob, el, errorMessage, formatBytes, formatValue } from "../common/dom";
import type { CatalogueApi } from "./worker";

export const CHECKPOINTS_CHANGED = "tips:checkpoints-changed";
export const CHECKPOINT_RENAMED = "tips:checkpoint-renamed";

export function stamp(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export class CheckpointsPage {
  private readonly catalogue = new CheckpointCatalogue();
  private readonly worker: Comlink.Remote<CatalogueApi>;
  private entries: CheckpointEntry[] = [];

  /** `resume` continues a checkpoint's run on the Train page. */
  constructor(
    private readonly resume: (entry: CheckpointEntry) => void,
    private readonly openInInference: (entry: CheckpointEntry) => void,
  ) {
    this.worker = Comlink.wrap<CatalogueApi>(
      new Worker(new URL("./worker.ts", import.meta.url), { type: "module" }),
    );
    byId<HTMLInputElement>("import-file").addEventListener("change", (ev) =>
      this.importFile(ev.target as HTMLInputElement),
    );
    window.addEventListener(CHECKPOINTS_CHANGED, () => this.refresh());
  }

  async init(): Promise<void> {
    await this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      this.entries = await this.catalogue.list();
    } catch (err) {
      byId("storage-use").textContent = `This browser's storage cannot be read: ${errorMessage(err)}`;
      return;
    }
    const body = byId("checkpoint-rows");
    body.replaceChildren(...this.entries.map((e) => this.row(e)));
    byId("checkpoint-empty").hidden = this.entries.length > 0;
    byId("checkpoint-table").hidden = this.entries.length === 0;
    try {
      const use = await this.catalogue.storage();
      const count = `${this.entries.length} checkpoint${this.entries.length === 1 ? "" : "s"}`;
      let text = `${count}, ${formatBytes(use.checkpoints)}`;
      if (use.usage !== null && use.quota !== null)
        text += ` · this site uses ${formatBytes(use.usage)} of ${formatBytes(use.quota)} available`;
      if (use.persisted === false) text += " · the browser may evict it when space runs low";
      byId("storage-use").textContent = text;
      const pct = use.usage !== null && use.quota ? Math.min(100, (100 * use.usage) / use.quota) : 0;
      byId("storage-bar").style.width = `${Math.max(pct, use.usage ? 0.5 : 0)}%`;
    } catch (err) {
      byId("storage-use").textContent = `Storage use unknown: ${errorMessage(err)}`;
    }
  }

  private note(text: string): void {
    const n = byId("checkpoint-note");
    n.textContent = text;
    n.hidden = false;
  }

  private row(e: CheckpointEntry): HTMLTableRowElement {
    const tr = el("tr");
    tr.dataset.id = e.id;
    tr.dataset.step = String(e.step);
    tr.dataset.name = e.name;
    tr.dataset.size = String(e.size);
    const name = el("td", e.name, "name");
    name.title = e.name;
    const progress = e.steps ? `${e.step} / ${e.steps}` : String(e.step);
    const losses = e.losses
      ? [
          ["web", e.losses.web],
          ["syn", e.losses.syn],
          ["DINO", e.losses.dino],
          ["MIM", e.losses.mim],
        ]
          .filter(([, v]) => v !== null && v !== undefined)
          .map(([k, v]) => `${k} ${formatValue(v as number, 3)}`)
          .join(" · ")
      : "";
    const loss = el("td", e.losses ? formatValue(e.losses.total) : "—", "num");
    loss.title = losses;
    tr.append(
      name,
      el("td", e.preset, "mono"),
      el("td", progress, "num"),
      loss,
      el("td", losses, "terms muted"),
      el("td", stamp(e.date)),
      el("td", formatBytes(e.size), "num"),
    );
    const actions = el("td", "", "actions");
    const button = (label: string, action: string, fn: () => void, cls = "small secondary") => {
      const b = el("button", label, cls);
      b.type = "button";
      b.dataset.action = action;
      b.addEventListener("click", fn);
      actions.append(b);
      return b;
    };
    const resume = button("Resume", "resume", () => this.resume(e), "small");
    resume.title =
      e.step >= e.steps
        ? "this run is finished: resuming loads it on the Train page without training"
        : "continue this run on the Train page";
    button("Open in Inference", "infer", () => this.openInInference(e)).title =
      "load this model on the Inference page, on a held-out scene";
    button("Rename", "rename", () => this.rename(tr, e));
    button("Export", "export", () => this.exportEntry(e));
    const del = button("Delete", "delete", () => {
      if (del.dataset.confirm) {
        this.remove(e);
        return;
      }
      del.dataset.confirm = "1";
      del.textContent = "Confirm delete";
      del.classList.add("danger");
      setTimeout(() => {
        delete del.dataset.confirm;
        del.textContent = "Delete";
        del.classList.remove("danger");
      }, 4000);
    });
    tr.append(actions);
    return tr;
  }

  private rename(tr: HTMLTableRowElement, e: CheckpointEntry): void {
    const cell = tr.cells[0];
    const input = el("input", "", "rename");
    input.type = "text";
    input.value = e.name;
    input.setAttribute("aria-label", "new name");
    cell.replaceChildren(input);
    input.focus();
    input.select();
    let done = false;
    const finish = async (commit: boolean) => {
      if (done) return;
      done = true;
      if (commit && input.value.trim() && input.value.trim() !== e.name) {
        try {
          const renamed = await this.catalogue.rename(e.id, input.value);
          // The Train page's run saves on under the new name.
          window.dispatchEvent(new CustomEvent(CHECKPOINT_RENAMED, { detail: renamed }));
        } catch (err) {
          this.note(`Could not rename: ${errorMessage(err)}`);
        }
      }
      await this.refresh();
    };
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") finish(true);
      else if (ev.key === "Escape") finish(false);
    });
    input.addEventListener("blur", () => finish(true));
  }

  private async exportEntry(e: CheckpointEntry): Promise<void> {
    try {
      const { entry, bytes } = await this.catalogue.get(e.id);
      downloadBlob(
        new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }),
        exportFileName(entry),
      );
    } catch (err) {
      this.note(`Could not export “${e.name}”: ${errorMessage(err)}`);
    }
  }

  private async remove(e: CheckpointEntry): Promise<void> {
    try {
      await this.catalogue.remove(e.id);
      this.note(`Deleted “${e.name}”.`);
    } catch (err) {
      this.note(`Could not delete “${e.name}”: ${errorMessage(err)}`);
    }
    await this.refresh();
  }

  private async importFile(input: HTMLInputElement): Promise<void> {
    const file = input.files?.[0];
    input.value = "";
    if (!file) return;
    const box = byId("import-error");
    box.hidden = true;
    byId("checkpoint-note").hidden = true;
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const entry = await this.worker.importCheckpoint(
        Comlink.transfer(bytes, [bytes.buffer]),
        file.name.replace(/\.safetensors$/i, ""),
      );
      this.note(`Imported “${entry.name}” (${entry.preset}, step ${entry.step}).`);
    } catch (err) {
      byId("import-error-message").textContent = `${file.name}: ${errorMessage(err)}. Nothing was saved.`;
      box.hidden = false;
    }
    await this.refresh();
  }
}
