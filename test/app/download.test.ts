// The Inference page's download of model files by URL (app/infer/download.ts), against a local
// server that sends a few bytes and then nothing: Cancel stops it at once with one line, whether
// it is pressed before the file's request starts or while its body streams.
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { download } from "../../app/infer/download";

describe("download by URL", () => {
  let base = "";
  let gets = 0;
  const open = new Set<ServerResponse>();
  const server = createServer((_req, res) => {
    gets++;
    open.add(res);
    res.writeHead(200, { "content-length": 1000 });
    res.write(Buffer.alloc(64));
  });
  beforeAll(async () => {
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const res of open) res.socket?.destroy();
    await new Promise((done) => server.close(done));
  });

  it("is cancelled at once when Cancel came before the file's request, which is never sent", async () => {
    const before = gets;
    const started = performance.now();
    await expect(download(`${base}/vision.npz`, AbortSignal.abort(), () => {})).rejects.toThrow(
      "the download of vision.npz was cancelled",
    );
    expect(performance.now() - started).toBeLessThan(1000); // not the 10 s stall timer
    expect(gets).toBe(before);
  });

  it("is cancelled while the body streams", async () => {
    const cancel = new AbortController();
    const received: number[] = [];
    const done = download(`${base}/text.npz`, cancel.signal, (p) => {
      received.push(p.received);
      cancel.abort();
    });
    await expect(done).rejects.toThrow("the download of text.npz was cancelled");
    expect(received).toEqual([64]);
  });
});
