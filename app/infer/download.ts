// Model files by URL: their size before a download (HEAD), the download itself with its progress
// (bytes, rate, time left), a stalled server or a cut-off body as one clear error, and a copy in
// Cache Storage so that a second visit reads the files from this browser.
import { formatBytes } from "../common/dom";

/** A server that sends nothing for this long is given up on. */
export const STALL_MS = 10_000;

const CACHE_NAME = "tips-model-files";

export interface DownloadProgress {
  received: number;
  /** Bytes expected (Content-Length), null when the server does not say. */
  total: number | null;
  bytesPerSecond: number;
}

/** The last part of a URL's path: the name a person knows the file by. */
export function fileName(url: string): string {
  const path = new URL(url).pathname;
  return decodeURIComponent(path.slice(path.lastIndexOf("/") + 1)) || url;
}

/** What a failed fetch means: a browser reports a refused cross-origin read as a bare TypeError. */
function unreachable(url: string): Error {
  const { host } = new URL(url);
  return new Error(
    `${host} did not let this page read ${fileName(url)}: the server sends no cross-origin (CORS) header, or it cannot be reached. ` +
      "Download the file with its link and choose it under “Official files from this computer”.",
  );
}

function refused(url: string, res: Response): Error {
  return new Error(
    `${fileName(url)}: the server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}: check the URL.`,
  );
}

function lengthOf(res: Response): number | null {
  const v = Number(res.headers.get("content-length"));
  return res.headers.has("content-length") && Number.isFinite(v) ? v : null;
}

/** The file's size from a HEAD request (null when the server does not give it). */
export async function remoteSize(url: string): Promise<number | null> {
  let res: Response;
  try {
    res = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(STALL_MS) });
  } catch (err) {
    if ((err as Error).name === "TimeoutError")
      throw new Error(
        `${fileName(url)}: the server did not answer in ${STALL_MS / 1000} s: try again later.`,
      );
    throw unreachable(url);
  }
  if (!res.ok) throw refused(url, res);
  return lengthOf(res);
}

/**
 * Downloads `url` whole. Rejects with one line saying what went wrong: cancelled (`signal`), no
 * CORS or no network, an HTTP error, a server that stalls for STALL_MS, or a body cut short.
 */
export async function download(
  url: string,
  signal: AbortSignal,
  onProgress: (p: DownloadProgress) => void,
): Promise<Uint8Array> {
  const name = fileName(url);
  const stop = new AbortController();
  const abort = () => stop.abort();
  signal.addEventListener("abort", abort);
  let stalled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      stop.abort();
    }, STALL_MS);
  };
  let received = 0;
  let total: number | null = null;
  const why = (err: unknown): Error => {
    if (signal.aborted) return new Error(`the download of ${name} was cancelled`);
    if (stalled)
      return new Error(
        `${name}: the server sent nothing for ${STALL_MS / 1000} s (after ${formatBytes(received)}${total === null ? "" : ` of ${formatBytes(total)}`}): try again later.`,
      );
    return err instanceof Error ? err : new Error(String(err));
  };
  try {
    // Cancelled before this file started (the abort event has fired already).
    if (signal.aborted) throw new Error("cancelled");
    watch();
    let res: Response;
    try {
      res = await fetch(url, { signal: stop.signal, cache: "no-store" });
    } catch (err) {
      throw stop.signal.aborted ? why(err) : unreachable(url);
    }
    if (!res.ok || !res.body) throw refused(url, res);
    total = lengthOf(res);
    const chunks: Uint8Array[] = [];
    const reader = res.body.getReader();
    const started = performance.now();
    for (;;) {
      let part: ReadableStreamReadResult<Uint8Array>;
      try {
        part = await reader.read();
      } catch (err) {
        if (stop.signal.aborted) throw why(err);
        throw new Error(
          `${name}: the download broke off after ${formatBytes(received)}${total === null ? "" : ` of ${formatBytes(total)}`}: try again.`,
        );
      }
      if (part.done) break;
      watch();
      chunks.push(part.value);
      received += part.value.length;
      const seconds = (performance.now() - started) / 1000;
      onProgress({ received, total, bytesPerSecond: seconds > 0 ? received / seconds : 0 });
    }
    if (total !== null && received !== total)
      throw new Error(
        `${name}: the download broke off after ${formatBytes(received)} of ${formatBytes(total)}: try again.`,
      );
    const bytes = new Uint8Array(received);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    return bytes;
  } catch (err) {
    throw why(err);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", abort);
  }
}

/** Cache Storage, where the browser offers it (a secure context: https or localhost). */
function modelCache(): Promise<Cache> | null {
  return typeof caches === "undefined" ? null : caches.open(CACHE_NAME);
}

/** The file kept from an earlier download, or null. */
export async function cachedFile(url: string): Promise<Uint8Array | null> {
  const cache = await modelCache();
  const res = await cache?.match(url);
  return res ? new Uint8Array(await res.arrayBuffer()) : null;
}

/** Keeps a downloaded (and validated) file for the next visit. */
export async function keepFile(url: string, bytes: Uint8Array): Promise<void> {
  const cache = await modelCache();
  await cache?.put(
    url,
    new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { "content-length": String(bytes.length) } }),
  );
}

/** The size of a file kept from an earlier download, or null when none is kept. */
export async function cachedSize(url: string): Promise<number | null> {
  const cache = await modelCache();
  const res = await cache?.match(url);
  return res ? Number(res.headers.get("content-length")) : null;
}
