// Small DOM helpers shared by the pages (no framework).
import type { DeviceInfo } from "../../src/gpu/device";
import type { CheckpointEntry } from "../../src/train/catalogue";

export function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el as T;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text = "",
  className = "",
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  if (className) e.className = className;
  return e;
}

/** A catalogued checkpoint as an <option> ("name — preset, step N"; value: its id). */
export function checkpointOption(e: CheckpointEntry): HTMLOptionElement {
  const o = el("option", `${e.name} — ${e.preset}, step ${e.step}`);
  o.value = e.id;
  o.dataset.name = e.name;
  o.dataset.preset = e.preset;
  return o;
}

export function addFact(list: HTMLElement, term: string, value: string): void {
  list.append(el("dt", term), el("dd", value || "(not reported)"));
}

/** Saves a blob as a file through the browser's download (an anchor with a download name). */
export function downloadBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = el("a");
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function errorName(err: unknown): string {
  return err instanceof Error ? err.name : "Error";
}

/** 1.2 kB, 3.4 MB, 5.6 GB. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** 42 s, 3 min 05 s, 1 h 20 min. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** Loss-like values: 4 significant digits; n/a when not finite, "off" for terms that are off. */
export function formatValue(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) return "off";
  if (!Number.isFinite(v)) return Number.isNaN(v) ? "NaN" : "inf";
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(2);
  return v.toPrecision(digits);
}

/** "SwiftShader Device (Subzero) · google swiftshader": the adapter's description and vendor. */
export function deviceName(info: DeviceInfo): string {
  const parts = [
    info.description,
    info.vendor && info.architecture ? `${info.vendor} ${info.architecture}` : "",
  ];
  return parts.filter(Boolean).join(" · ") || info.vendor || "unnamed adapter";
}
