// The scenes drawn by worker threads (ScenesPool) are the scenes drawn inline, byte for byte and
// in order, whatever the number of workers; a worker's error, a missing worker file and a closed
// pool each reject with a message instead of hanging.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Example, ScenesSource } from "../../../src/data/examples";
import { ScenesPool } from "../../../src/data/scenes/pool-node";

const digest = (e: Example) =>
  `${e.key}|${e.webCaption}|${e.syntheticCaption}|${e.image.width}x${e.image.height}|${createHash("sha256").update(e.image.data).digest("hex")}`;

let dir = "";
let workerUrl: URL;

beforeAll(async () => {
  // The worker as the Node bundles carry it (scripts/build-node.mjs puts it beside them).
  dir = await mkdtemp(join(tmpdir(), "tips-scenes-pool-"));
  const build = `import { buildNodeWorkers } from "./scripts/build-node.mjs"; await buildNodeWorkers(${JSON.stringify(dir)});`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", build], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  workerUrl = pathToFileURL(join(dir, "scenes-worker.mjs"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("ScenesPool", () => {
  it("gives the inline source's batches and positions with 1 and 3 workers", async () => {
    const inline = new ScenesSource({ size: 40, seed: 3, position: { kind: "scenes", next: 5 } });
    const expected = [await inline.next(10), await inline.next(4)].map((b) => b.map(digest));
    for (const workers of [1, 3]) {
      const pooled = new ScenesSource({
        size: 40,
        seed: 3,
        position: { kind: "scenes", next: 5 },
        renderer: new ScenesPool(workers, workerUrl),
      });
      const got = [await pooled.next(10), await pooled.next(4)].map((b) => b.map(digest));
      expect(got).toEqual(expected);
      expect(pooled.position()).toEqual(inline.position());
      await pooled.close();
    }
  });

  it("passes a scene's error on, and refuses work once closed", async () => {
    const pool = new ScenesPool(2, workerUrl);
    await expect(pool.render([0, 1, 2], { size: 4, split: "train", seed: 0 })).rejects.toThrow(
      "scenes: bad image size 4",
    );
    expect((await pool.render([7], { size: 16, split: "heldout", seed: 0 }))[0].key).toBe("scenes-heldout-7");
    await pool.close();
    await expect(pool.render([0], { size: 16, split: "train", seed: 0 })).rejects.toThrow(
      "the scenes pool was closed",
    );
  });

  it("says so when its worker cannot start", async () => {
    const pool = new ScenesPool(1, pathToFileURL(join(dir, "missing-worker.mjs")));
    await expect(pool.render([0], { size: 16, split: "train", seed: 0 })).rejects.toThrow(
      /a scenes worker failed: .*missing-worker\.mjs/,
    );
    await pool.close();
  });

  it("needs at least one worker", () => {
    expect(() => new ScenesPool(0, workerUrl)).toThrow("at least 1; got 0");
  });
});
