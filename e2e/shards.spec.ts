// Shards written by `tips shards` stream back identically in the browser: our WebDataset reader
// fetches them over http and decode-browser.ts decodes them, and keys, captions and pixel hashes
// match what Node reads with sharp. The engine's modules are imported straight from the Vite dev
// server (/@fs/...) into a blank page that the test serves itself, together with the shards.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, expect, type Page, test } from "@playwright/test";
import { decodeImage } from "../src/data/decode-node";
import { OpenMoji, openMojiSamples } from "../src/data/openmoji/dataset";
import { loadOpenMojiRecords, nodeOpenMojiRenderer } from "../src/data/openmoji/load-node";
import { emptySkipCounts } from "../src/data/skips";
import { WebDataset } from "../src/data/webdataset/reader";
import { resolveShards } from "../src/data/webdataset/shards";
import { openFile } from "../src/data/webdataset/source-node";
import { launchChromium } from "./chromium";

const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
/** Where the blank page and the shards seem to live; the test answers these requests itself. */
const PLACE = "/__e2e_shards__";

interface ReadSample {
  key: string;
  webCaption: string;
  syntheticCaption: string | null;
  imageSha: string;
  width: number;
  height: number;
  pixelsSha: string;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

let browser: Browser | null = null;
let dir = "";

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "e2e-shards-"));
});

test.afterAll(async () => {
  await browser?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A blank page on the dev server's origin, with PLACE/*.tar answered from `dir`. */
async function blankPage(baseURL: string): Promise<{ page: Page; errors: string[] }> {
  browser ??= await launchChromium([]);
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.route(`${baseURL}${PLACE}/**`, async (route) => {
    const name = basename(new URL(route.request().url()).pathname);
    if (name.endsWith(".tar")) {
      await route.fulfill({ body: await readFile(join(dir, name)), contentType: "application/x-tar" });
    } else {
      await route.fulfill({ body: "<!doctype html><title>shards e2e</title>", contentType: "text/html" });
    }
  });
  await page.goto(`${baseURL}${PLACE}/index.html`);
  return { page, errors };
}

test("shards written by tips shards stream back identically in the browser", async ({ baseURL }) => {
  const out = execFileSync(
    process.execPath,
    [
      "bin/tips.mjs",
      "shards",
      "--from",
      "scenes",
      "--split",
      "heldout",
      "--count",
      "7",
      "--size",
      "40",
    ].concat(["--samples-per-shard", "3", "--out", dir]),
    { cwd: ROOT, encoding: "utf8" },
  );
  const pattern = out.trim();
  expect(pattern).toBe(join(dir, "scenes-heldout-{000000..000002}.tar"));

  // Node: the reader over local files, sharp to decode.
  const node: ReadSample[] = [];
  const dataset = new WebDataset(await resolveShards(pattern), { openShards: 2, source: { openFile } });
  for await (const s of dataset) {
    const image = await decodeImage(s.image, dataset.skipped);
    node.push({
      key: s.key,
      webCaption: s.webCaption,
      syntheticCaption: s.syntheticCaption,
      imageSha: sha256(s.image),
      width: image!.width,
      height: image!.height,
      pixelsSha: sha256(image!.data),
    });
  }
  expect(node).toHaveLength(7);
  expect(Object.values(dataset.skipped).every((n) => n === 0)).toBe(true);

  // Browser: the same reader over http, createImageBitmap to decode.
  const { page, errors } = await blankPage(baseURL!);
  const url = `${baseURL}${PLACE}/${basename(pattern)}`;
  const browserRead = await page.evaluate(
    async ({ root, url }) => {
      const [{ WebDataset }, { resolveShards }, { decodeImage }] = await Promise.all([
        import(`/@fs${root}/src/data/webdataset/reader.ts`),
        import(`/@fs${root}/src/data/webdataset/shards.ts`),
        import(`/@fs${root}/src/data/decode-browser.ts`),
      ]);
      const hex = async (bytes: Uint8Array<ArrayBuffer>) =>
        [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))]
          .map((b) => b.toString(16).padStart(2, "0"))
          .join("");
      const dataset = new WebDataset(await resolveShards(url), { openShards: 2 });
      const samples = [];
      for await (const s of dataset) {
        const image = await decodeImage(s.image, dataset.skipped);
        samples.push({
          key: s.key,
          webCaption: s.webCaption,
          syntheticCaption: s.syntheticCaption,
          imageSha: await hex(s.image),
          width: image.width,
          height: image.height,
          pixelsSha: await hex(image.data),
        });
      }
      return { samples, skipped: dataset.skipped as Record<string, number> };
    },
    { root: ROOT, url },
  );
  expect(errors).toEqual([]);
  expect(Object.entries(browserRead.skipped).filter(([, n]) => n > 0)).toEqual([]);
  expect(browserRead.samples).toEqual(node);
});

test("the openmoji dataset loads and draws in the browser as in Node", async ({ baseURL }) => {
  const records = await loadOpenMojiRecords();
  const heldout = new OpenMoji(records).split("heldout").slice(0, 4);
  const nodePixels: number[][] = [];
  for await (const s of openMojiSamples(heldout, nodeOpenMojiRenderer())) {
    nodePixels.push([...(await decodeImage(s.image, emptySkipCounts()))!.data]);
  }

  const { page, errors } = await blankPage(baseURL!);
  const browserRead = await page.evaluate(
    async ({ root, keys }) => {
      const [{ openMojiSamples }, { loadOpenMoji, browserOpenMojiRenderer }, { decodeImage }] =
        await Promise.all([
          import(`/@fs${root}/src/data/openmoji/dataset.ts`),
          import(`/@fs${root}/src/data/openmoji/load-browser.ts`),
          import(`/@fs${root}/src/data/decode-browser.ts`),
        ]);
      const dataset = await loadOpenMoji();
      const entries = dataset.split("heldout").slice(0, keys.length);
      const out = [];
      for await (const s of openMojiSamples(entries, browserOpenMojiRenderer())) {
        const { key, webCaption, syntheticCaption, split } = s;
        const image = await decodeImage(s.image, {});
        out.push({
          key,
          webCaption,
          syntheticCaption,
          split,
          size: [image.width, image.height],
          pixels: [...image.data],
        });
      }
      return { count: dataset.entries.length, out };
    },
    { root: ROOT, keys: heldout.map((e) => e.key) },
  );
  expect(errors).toEqual([]);
  expect(browserRead.count).toBe(records.length);
  browserRead.out.forEach((b, i) => {
    const e = heldout[i];
    expect([b.key, b.webCaption, b.syntheticCaption, b.split]).toEqual([
      e.key,
      e.webCaption,
      e.syntheticCaption,
      "heldout",
    ]);
    expect(b.size).toEqual([72, 72]);
    // Two rasterisers (Chromium's Skia, librsvg) agree up to antialiasing at the edges.
    const n = nodePixels[i];
    const meanDiff = b.pixels.reduce((sum, v, j) => sum + Math.abs(v - n[j]), 0) / n.length;
    expect(meanDiff, e.key).toBeLessThan(4);
  });
});
