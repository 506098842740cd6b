// The Dataset part of the Train page's settings: the built-in scenes (default) or openmoji,
// WebDataset shards from URLs (brace patterns expand), or shards on this computer picked as files
// or as a folder (showDirectoryPicker where the browser has it, else <input webkitdirectory>).
// Picked shards are kept sorted by name, so the same files always make the same stream.
import type { DataSpec } from "../../src/data/datasets";
import { OPENMOJI_ATTRIBUTION } from "../../src/data/openmoji/dataset";
import { byId, errorMessage } from "../common/dom";

type Choice = "scenes" | "openmoji" | "urls" | "files";

const byName = (a: File, b: File) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const isTar = (f: File) => /\.tar$/i.test(f.name);

interface DirectoryHandle {
  values(): AsyncIterable<{ kind: "file" | "directory"; name: string; getFile?: () => Promise<File> }>;
}

export class DatasetForm {
  private picked: File[] = [];
  private readonly urls = byId<HTMLTextAreaElement>("set-data-urls");
  private readonly folderButton = byId<HTMLButtonElement>("set-data-folder");

  constructor() {
    for (const r of this.radios()) r.addEventListener("change", () => this.show());
    byId<HTMLInputElement>("set-data-files").addEventListener("change", (ev) => {
      const input = ev.target as HTMLInputElement;
      this.setPicked([...(input.files ?? [])], "files");
      input.value = "";
    });
    const folderInput = byId<HTMLInputElement>("set-data-folder-input");
    folderInput.addEventListener("change", () => {
      // The folder's own .tar files, not those of its subfolders (as `tips train --data FOLDER`).
      const files = [...(folderInput.files ?? [])].filter(
        (f) => (f.webkitRelativePath || f.name).split("/").length <= 2,
      );
      this.setPicked(files, "folder");
      folderInput.value = "";
    });
    this.folderButton.addEventListener("click", () => this.pickFolder());
    this.show();
  }

  private radios(): HTMLInputElement[] {
    return [...document.querySelectorAll<HTMLInputElement>('input[name="data"]')];
  }

  private choice(): Choice {
    return (this.radios().find((r) => r.checked)?.value as Choice) ?? "scenes";
  }

  private select(choice: Choice): void {
    for (const r of this.radios()) r.checked = r.value === choice;
    this.show();
  }

  private show(): void {
    const c = this.choice();
    byId("data-urls").hidden = c !== "urls";
    byId("data-files").hidden = c !== "files";
    const note = byId("data-note");
    note.hidden = c !== "openmoji";
    note.textContent = c === "openmoji" ? OPENMOJI_ATTRIBUTION : "";
  }

  private async pickFolder(): Promise<void> {
    const picker = (window as { showDirectoryPicker?: () => Promise<DirectoryHandle> }).showDirectoryPicker;
    if (!picker) {
      byId<HTMLInputElement>("set-data-folder-input").click();
      return;
    }
    try {
      const dir = await picker.call(window);
      const files: File[] = [];
      for await (const entry of dir.values())
        if (entry.kind === "file" && entry.getFile) files.push(await entry.getFile());
      this.setPicked(files, "folder");
    } catch (err) {
      if ((err as Error).name === "AbortError") return; // the person closed the picker
      byId("data-files-list").textContent = `could not read the folder: ${errorMessage(err)}`;
    }
  }

  private setPicked(files: File[], from: "files" | "folder"): void {
    const tars = files.filter(isTar).sort(byName);
    this.picked = tars;
    const list = byId("data-files-list");
    const left = files.length - tars.length;
    const others = left > 0 ? ` (${left} other file${left === 1 ? "" : "s"} left out)` : "";
    if (tars.length === 0)
      list.textContent = `no .tar files in the ${from === "folder" ? "folder" : "selection"}${others}`;
    else {
      const size = tars.reduce((n, f) => n + f.size, 0);
      const names =
        tars.length <= 4 ? tars.map((f) => f.name).join(", ") : `${tars[0].name} … ${tars.at(-1)!.name}`;
      list.textContent = `${tars.length} shard${tars.length === 1 ? "" : "s"} (${(size / 1e6).toFixed(1)} MB): ${names}${others}`;
    }
    list.dataset.count = String(tars.length);
  }

  /** The picked shard files (for resuming a run that read them). */
  files(): File[] {
    return [...this.picked];
  }

  /** The data of a new run, or what is missing. */
  spec(): DataSpec | string {
    const c = this.choice();
    if (c === "scenes" || c === "openmoji") return { kind: c };
    if (c === "urls") {
      const spec = this.urls.value.trim();
      if (!spec)
        return "Write at least one shard URL (or a brace pattern such as data-{000000..000009}.tar).";
      return { kind: "shards", spec };
    }
    if (this.picked.length === 0) return "Pick one or more .tar shard files, or a folder holding them.";
    return { kind: "files", files: this.files() };
  }

  /** Shows a resumed run's data. */
  fill(spec: DataSpec): void {
    if (spec.kind === "shards") {
      this.urls.value = spec.spec;
      this.select("urls");
    } else if (spec.kind === "files") {
      this.setPicked(spec.files, "files");
      this.select("files");
    } else this.select(spec.kind);
  }

  disable(disabled: boolean): void {
    this.urls.disabled = disabled;
    this.folderButton.disabled = disabled;
    for (const l of document.querySelectorAll<HTMLElement>("#data-files label.button"))
      l.classList.toggle("disabled", disabled);
    byId<HTMLInputElement>("set-data-files").disabled = disabled;
  }
}
