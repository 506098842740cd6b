// Opens a shard as a stream of bytes: http(s) URLs through fetch (streamed, retried, with a stall
// timeout), browser File objects through File.stream(), and local paths through an opener that the
// Node side passes in (openFile from source-node.ts), so that browser bundles never see node:fs.
// Every read error comes out as a ShardSourceError, which tells it apart from damage in the tar.
import { isUrl } from "./shards";

export type ShardRef = string | File;

export interface SourceOptions {
  /** Tries per run of failures; a try that delivers bytes starts the count again. Default 5. */
  attempts?: number;
  /** The wait before retry k (1-based) is baseDelayMs * 2^(k-1). Default 500. */
  baseDelayMs?: number;
  /** A try that brings no response or no bytes for this long is aborted and retried. Default 30000. */
  stallMs?: number;
  fetch?: typeof fetch;
  /** Opens a local path (Node: openFile from source-node.ts); required for shards that are paths. */
  openFile?: (path: string) => ReadableStream<Uint8Array>;
  onRetry?: (shard: string, attempt: number, error: unknown) => void;
  /** A shard gave up (after its retries); the error's message names it and says why (e.g. its HTTP status). */
  onFailure?: (error: ShardSourceError) => void;
}

export class ShardSourceError extends Error {
  override name = "ShardSourceError";
}

export function shardName(ref: ShardRef): string {
  return typeof ref === "string" ? ref : ref.name;
}

export function openShard(ref: ShardRef, options: SourceOptions = {}): ReadableStream<Uint8Array> {
  if (typeof ref !== "string") return reportErrors(ref.stream(), ref.name, options);
  if (isUrl(ref)) return fetchStream(ref, options);
  if (!options.openFile) throw new Error(`shard "${ref}" is a local path, but no openFile was given`);
  return reportErrors(options.openFile(ref), ref, options);
}

/**
 * The body of `url` as a stream, pulled from the network only as fast as it is read. A failed or
 * stalled try is aborted and retried after an exponential backoff; a retry that comes after bytes
 * were delivered asks for the rest with a Range header (and drops what it has already seen if the
 * server ignores it). After `attempts` failures in a row, or at once for a client error such as
 * 404, the stream errors with a ShardSourceError.
 */
export function fetchStream(url: string, options: SourceOptions = {}): ReadableStream<Uint8Array> {
  const attempts = options.attempts ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const stallMs = options.stallMs ?? 30_000;
  const fetchFn = options.fetch ?? fetch;
  let delivered = 0;
  let failures = 0;
  let abort = new AbortController();
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let skip = 0; // bytes the server sent again because it ignored the Range header
  let cancelled = false;

  async function connect(): Promise<ReadableStreamDefaultReader<Uint8Array>> {
    abort = new AbortController();
    const headers: Record<string, string> = delivered > 0 ? { Range: `bytes=${delivered}-` } : {};
    const response = await withStall(fetchFn(url, { headers, signal: abort.signal }), stallMs, abort);
    if (!response.ok) {
      await response.body?.cancel();
      const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
      throw new HttpError(`HTTP ${response.status} ${response.statusText}`.trim(), retryable);
    }
    if (!response.body) throw new HttpError("response has no body", true);
    skip = delivered > 0 && response.status !== 206 ? delivered : 0;
    return response.body.getReader();
  }

  async function pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    while (!cancelled) {
      try {
        reader ??= await connect();
        const { done, value } = await withStall(reader.read(), stallMs, abort);
        if (done) return controller.close();
        const dropped = Math.min(skip, value.length);
        skip -= dropped;
        if (dropped === value.length) continue;
        failures = 0; // only new bytes count as progress: a server that resends what it sent may stall again
        delivered += value.length - dropped;
        return controller.enqueue(value.subarray(dropped));
      } catch (error) {
        abort.abort();
        reader = null;
        failures++;
        const retryable = !(error instanceof HttpError) || error.retryable;
        if (!retryable || failures >= attempts) {
          const tries = failures === 1 ? "1 try" : `${failures} tries`;
          const failure = new ShardSourceError(`${url}: ${errorText(error)} (${tries})`, { cause: error });
          options.onFailure?.(failure);
          return controller.error(failure);
        }
        options.onRetry?.(url, failures, error);
        await new Promise((resolve) => setTimeout(resolve, baseDelayMs * 2 ** (failures - 1)));
      }
    }
  }

  return new ReadableStream({
    pull,
    cancel() {
      cancelled = true;
      abort.abort();
    },
  });
}

class HttpError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** `promise`, or a rejection (and an abort) if it has not settled after `ms`. */
async function withStall<T>(promise: Promise<T>, ms: number, abort: AbortController): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stall = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Rejected before the abort, so that the race reports the stall, not the abort it causes.
      reject(new Error(`stalled: nothing for ${ms} ms`));
      abort.abort();
    }, ms);
  });
  try {
    return await Promise.race([promise, stall]);
  } finally {
    clearTimeout(timer);
  }
}

/** `stream` with its read errors turned into ShardSourceErrors. */
function reportErrors(
  stream: ReadableStream<Uint8Array>,
  name: string,
  options: SourceOptions,
): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  return new ReadableStream({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        const failure = new ShardSourceError(`${name}: ${errorText(error)}`, { cause: error });
        options.onFailure?.(failure);
        controller.error(failure);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
  return error.message + cause;
}
