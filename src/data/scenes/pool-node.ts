// The built-in scenes drawn by worker threads (Node), so that several cores render while the
// trainer's thread records GPU work. Each scene depends only on (seed, split, index) and the pool
// returns them in the order asked, so a run gives the same batches with any number of workers.
// The worker is scenes-worker.mjs beside the bundle that loads this module (scripts/build-node.mjs
// builds it there).
import { Worker } from "node:worker_threads";
import type { Example, SceneDraw, ScenesRenderer } from "../examples";

export interface RenderRequest extends SceneDraw {
  id: number;
  indices: number[];
}

export type RenderReply = { id: number; examples: Example[] } | { id: number; error: string };

interface Waiting {
  resolve: (examples: Example[]) => void;
  reject: (error: Error) => void;
}

export const SCENES_WORKER_URL = new URL("./scenes-worker.mjs", import.meta.url);

export class ScenesPool implements ScenesRenderer {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, Waiting>();
  private readonly due = new Map<Worker, number>(); // replies each worker owes
  private nextId = 0;
  private failure: Error | null = null;
  private closed = false;

  constructor(count: number, url: URL = SCENES_WORKER_URL) {
    if (!(Number.isInteger(count) && count >= 1))
      throw new Error(`a scenes pool needs a whole number of workers, at least 1; got ${count}`);
    this.workers = Array.from({ length: count }, () => {
      const w = new Worker(url);
      w.on("message", (reply: RenderReply) => this.settle(reply));
      w.on("error", (error) => this.fail(`a scenes worker failed: ${error.message}`));
      w.on("exit", (code) => {
        if (!this.closed) this.fail(`a scenes worker stopped (exit code ${code})`);
      });
      w.unref(); // an idle pool never keeps the process alive; ask() holds it while a reply is due
      return w;
    });
  }

  /** The indices in contiguous parts, one per worker, rendered at once and joined in order. */
  async render(indices: number[], o: SceneDraw): Promise<Example[]> {
    const per = Math.ceil(indices.length / this.workers.length);
    const parts = this.workers
      .map((w, j) => ({ w, part: indices.slice(j * per, (j + 1) * per) }))
      .filter(({ part }) => part.length > 0);
    const done = await Promise.all(parts.map(({ w, part }) => this.ask(w, { indices: part, ...o })));
    return done.flat();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.fail("the scenes pool was closed");
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private ask(w: Worker, request: Omit<RenderRequest, "id">): Promise<Example[]> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    this.hold(w, +1);
    return new Promise<Example[]>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.postMessage({ id, ...request } satisfies RenderRequest);
    }).finally(() => this.hold(w, -1));
  }

  private hold(w: Worker, change: number): void {
    const due = (this.due.get(w) ?? 0) + change;
    this.due.set(w, due);
    if (due > 0) w.ref();
    else w.unref();
  }

  private settle(reply: RenderReply): void {
    const waiting = this.waiting.get(reply.id);
    if (!waiting) return;
    this.waiting.delete(reply.id);
    if ("error" in reply) waiting.reject(new Error(reply.error));
    else waiting.resolve(reply.examples);
  }

  private fail(message: string): void {
    this.failure ??= new Error(message);
    for (const waiting of this.waiting.values()) waiting.reject(this.failure);
    this.waiting.clear();
  }
}
