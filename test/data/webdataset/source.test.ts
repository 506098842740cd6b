import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebDataset } from "../../../src/data/webdataset/reader";
import { fetchStream, ShardSourceError } from "../../../src/data/webdataset/source";
import { collect, makeSamples, makeShards } from "../fixtures";

// A local server whose paths misbehave in the ways networks do.
describe("shards over http", () => {
  let server: Server;
  let base = "";
  let tar = new Uint8Array(0);
  const requests = new Map<string, string[]>(); // path -> Range headers seen

  beforeAll(async () => {
    const [shard] = await makeShards(await makeSamples(12), 12);
    tar = new Uint8Array(await shard.arrayBuffer());
    server = createServer((req, res) => {
      const path = req.url ?? "";
      const seen = requests.get(path) ?? [];
      seen.push(req.headers.range ?? "");
      requests.set(path, seen);
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
      const from = range ? Number(range[1]) : 0;
      if (path === "/good.tar") return res.end(tar);
      if (path === "/missing.tar") return res.writeHead(404).end();
      if (path === "/flaky.tar") return seen.length <= 2 ? res.writeHead(503).end() : res.end(tar);
      if (path === "/stall.tar") return res.writeHead(200, { "content-length": tar.length }).flushHeaders();
      if (path === "/silent.tar") return; // not even headers
      if (path === "/halfstall.tar") {
        // Half the body (every request, Range or not), then nothing more on an open connection.
        res.writeHead(200, { "content-length": tar.length });
        return res.write(tar.subarray(0, tar.length >> 1));
      }
      if (path === "/drop.tar" || path === "/norange.tar") {
        if (seen.length === 1) {
          // Half the body, then the connection dies.
          res.writeHead(200, { "content-length": tar.length });
          res.write(tar.subarray(0, tar.length >> 1), () => res.destroy());
          return;
        }
        if (path === "/norange.tar" || !range) return res.end(tar);
        res.writeHead(206, { "content-range": `bytes ${from}-${tar.length - 1}/${tar.length}` });
        return res.end(tar.subarray(from));
      }
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const quick = { attempts: 3, baseDelayMs: 10, stallMs: 300 };

  async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  it("streams a shard and reads it", async () => {
    const dataset = new WebDataset([`${base}/good.tar`]);
    expect(await collect(dataset)).toHaveLength(12);
  });

  it("retries a failing fetch with backoff and then reads the shard", async () => {
    const retries: number[] = [];
    const onRetry = (_: string, attempt: number) => retries.push(attempt);
    const dataset = new WebDataset([`${base}/flaky.tar`], { source: { ...quick, onRetry } });
    expect(await collect(dataset)).toHaveLength(12);
    expect(retries).toEqual([1, 2]);
    expect(requests.get("/flaky.tar")).toHaveLength(3);
    expect(dataset.skipped.shard_failed).toBe(0);
  });

  it("continues a dropped download with a Range request", async () => {
    expect(await readAll(fetchStream(`${base}/drop.tar`, quick))).toEqual(tar);
    expect(requests.get("/drop.tar")).toEqual(["", `bytes=${tar.length >> 1}-`]);
  });

  it("drops the bytes it already has when the server ignores Range", async () => {
    expect(await readAll(fetchStream(`${base}/norange.tar`, quick))).toEqual(tar);
    expect(requests.get("/norange.tar")).toHaveLength(2);
  });

  it("gives up on a stalled shard after its retries and goes on with the next", async () => {
    const start = performance.now();
    const dataset = new WebDataset([`${base}/stall.tar`, `${base}/silent.tar`, `${base}/good.tar`], {
      openShards: 1,
      source: quick,
    });
    expect(await collect(dataset)).toHaveLength(12);
    expect(dataset.skipped.shard_failed).toBe(2);
    expect(requests.get("/stall.tar")).toHaveLength(3);
    expect(requests.get("/silent.tar")).toHaveLength(3);
    expect(performance.now() - start).toBeLessThan(5000);
  });

  it("times out a shard that stalls mid-body, naming its URL, and keeps the samples before the stall", async () => {
    const start = performance.now();
    const url = `${base}/halfstall.tar`;
    const failures: string[] = [];
    const onFailure = (error: Error) => failures.push(error.message);
    const dataset = new WebDataset([url], { source: { ...quick, onFailure } });
    const samples = await collect(dataset);
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.length).toBeLessThan(12);
    expect(dataset.skipped.shard_failed).toBe(1);
    expect(failures).toEqual([`${url}: stalled: nothing for 300 ms (3 tries)`]);
    expect(requests.get("/halfstall.tar")).toHaveLength(3);
    expect(performance.now() - start).toBeLessThan(5000);
  }, 10_000); // a hang fails here, not at the suite's long timeout

  it("does not retry a client error such as 404", async () => {
    const error = await readAll(fetchStream(`${base}/missing.tar`, quick)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShardSourceError);
    expect(String(error)).toMatch(/missing\.tar: HTTP 404 Not Found \(1 try\)/);
    expect(requests.get("/missing.tar")).toHaveLength(1);
  });

  it("retries with a mock fetch that fails twice, waiting longer each time", async () => {
    let calls = 0;
    const times: number[] = [];
    const mock = async () => {
      times.push(performance.now());
      if (++calls <= 2) throw new TypeError("fetch failed");
      return new Response(tar);
    };
    const bytes = await readAll(
      fetchStream("https://example.com/x.tar", { ...quick, baseDelayMs: 40, fetch: mock }),
    );
    expect(bytes).toEqual(tar);
    expect(calls).toBe(3);
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(35);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(75);
  });
});
