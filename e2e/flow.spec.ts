// The guided path, with the trained checkpoint of test/fixtures/trained (80 of 80 steps): a
// checkpoint row and the Train page open the model on the Inference page on a held-out scene with
// a query typed in; resuming the finished run says so and offers to continue for more steps,
// which it refuses with the reason (its shards are not here). Released models by URL, against
// the official-layout fixtures served from another port of 127.0.0.1.
import { readFile } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { expect, type Page, test } from "@playwright/test";
import { checkpointRow, openTab, openTrainPage, ROOT, screenshot, sharedPage } from "./app";
import { launchChromium, WEBGPU_FLAGS } from "./chromium";

const FIXTURE = join(ROOT, "test/fixtures/trained/tips-test-80.safetensors");
const shared = sharedPage();
let page: Page;
test.beforeEach(() => {
  page = shared.page();
});

/** The Inference page shows `name` on a held-out scene, its query heatmap drawn. */
async function expectSceneShown(name: string): Promise<void> {
  await expect(page.locator("#page-infer")).toBeVisible();
  await expect(page.locator("#infer-model")).toHaveAttribute("data-name", name, { timeout: 120_000 });
  await expect(page.locator("#infer-image-name")).toContainText("held-out scene", { timeout: 120_000 });
  const query = await page.locator("#infer-query").inputValue();
  expect(query, "the query names one of the scene's objects").toMatch(/^a \w+ \w+$/);
  // The first run of the encoder compiles its pipelines: minutes on a loaded 2-core machine.
  await expect(page.locator("#infer-heat")).toHaveAttribute("data-query", query, { timeout: 240_000 });
  await expect(page.locator("#infer-image-error")).toBeHidden();
}

test("a checkpoint opens in Inference from its row and from the Train page; a finished run offers more steps", async ({
  baseURL,
}, testInfo) => {
  await openTrainPage(page, baseURL!);
  // The explainer names each term with its paper.
  await page.locator("#terms-explainer summary").click();
  await expect(page.locator("#terms-explainer li")).toHaveCount(6);
  await expect(page.locator('#terms-explainer li[data-term="mim"] a')).toHaveAttribute(
    "href",
    "https://arxiv.org/abs/2111.07832",
  );
  await openTab(page, "checkpoints");
  await page.setInputFiles("#import-file", FIXTURE);
  const row = checkpointRow(page, "tips-test-80");
  await expect(row).toHaveAttribute("data-step", "80");

  await row.locator('button[data-action="infer"]').click();
  await expectSceneShown("tips-test-80");
  // The caption check ran, and its hint agrees with what it measured.
  const check = page.locator("#infer-text-check");
  await expect(check).toHaveAttribute("data-r1", /^\d+$/, { timeout: 120_000 });
  const atChance = Number(await check.getAttribute("data-r1")) < 3;
  await expect(check).toHaveAttribute("data-at-chance", String(atChance));
  await expect(check).toContainText(atChance ? "Too undertrained for text maps" : "Caption retrieval on 16");

  // Resuming the finished run: it says so and offers more steps instead of a spinner.
  await openTab(page, "checkpoints");
  await row.locator('button[data-action="resume"]').click();
  await expect(page.locator("#run-step")).toHaveAttribute("data-resumed-from", "80");
  await expect(page.locator("#run-status")).toHaveAttribute("data-status", "done");
  await expect(page.locator("#run-eta")).toHaveText("this run already finished at step 80 of 80");
  await expect(page.locator("#run-continue")).toBeVisible();
  await expect(page.locator("#run-error")).toBeHidden();

  // Open in Inference from the Train page: the checkpoint already holds this step, so nothing new is saved.
  await page.click("#train-infer");
  await expectSceneShown("tips-test-80");
  await expect(page.locator("#infer-checkpoint option:checked")).toHaveText(
    "tips-test-80 — tips-test, step 80",
  );
  await expect(check).toHaveAttribute("data-r1", /^\d+$/, { timeout: 120_000 });
  await screenshot(page, testInfo, "first-visit");
  await openTab(page, "checkpoints");
  await expect(page.locator("#checkpoint-rows tr")).toHaveCount(1);

  // This run read shards that are not here: it cannot go on, and says why and what to do instead
  // (e2e/start-from.spec.ts continues a run whose shards are picked).
  await openTab(page, "train");
  await page.fill("#run-more", "2");
  await page.click("#run-continue-go");
  await expect(page.locator("#run-error-title")).toHaveText("Could not continue this run");
  await expect(page.locator("#run-error-message")).toContainText(
    "its data cannot be read from here (position was saved with other shards",
  );
  await expect(page.locator("#run-error-message")).toContainText(
    "start a new run from this checkpoint (Start from)",
  );
  await expect(page.locator("#run-status")).toHaveAttribute("data-status", "idle");
});

/**
 * The official-layout fixtures served from another origin (a port of 127.0.0.1), each file under
 * a folder that says how it is served: with CORS, without, missing (404), stalling after a few
 * bytes, or cut off half-way through its announced length. GET requests are counted.
 */
async function modelServer(): Promise<{ base: string; gets: string[]; close: () => Promise<void> }> {
  const dir = join(ROOT, "test/fixtures/official");
  const files: Record<string, Buffer> = {
    "vision.npz": await readFile(join(dir, "vision.npz")),
    "text.npz": await readFile(join(dir, "text.npz")),
    "tokenizer.model": await readFile(join(dir, "tokenizer.model")),
  };
  const gets: string[] = [];
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const [, mode, name] = (req.url ?? "").split("/");
    const body = files[name];
    const cors: Record<string, string> = mode === "nocors" ? {} : { "access-control-allow-origin": "*" };
    if (mode === "missing" || !body) {
      res.writeHead(404, cors).end();
      return;
    }
    res.writeHead(200, {
      ...cors,
      "content-type": "application/octet-stream",
      "content-length": body.length,
    });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    gets.push(`${mode}/${name}`);
    if (mode === "stall") {
      open.add(res);
      res.write(body.subarray(0, 64));
    } else if (mode === "cut") res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy());
    else res.end(body);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    gets,
    close: () => {
      for (const res of open) res.socket?.destroy();
      return new Promise((done) => server.close(() => done()));
    },
  };
}

test("released models by URL: size and memory first, progress, cache, and each failure said", async ({
  baseURL,
}) => {
  const server = await modelServer();
  const browser = await launchChromium(WEBGPU_FLAGS, true);
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${baseURL}/#infer`);
    await expect(page.locator("#infer-gpu")).toContainText(/swiftshader/i, { timeout: 120_000 });
    await page.locator("#infer-released summary").click();
    const info = page.locator("#infer-url-info");
    const error = page.locator("#infer-encoder-error");
    const progress = page.locator("#infer-url-progress-text");

    // The largest release is refused on this adapter before anything is fetched, naming what fits.
    await page.selectOption("#infer-release", "3");
    await expect(page.locator("#infer-url-vision")).toHaveValue(
      "https://storage.googleapis.com/tips_data/v2_0/checkpoints/pytorch/tips_v2_oss_g14_vision.npz",
    );
    await expect(info).toHaveAttribute("data-fits", "false");
    await expect(info).toContainText("Too large for this GPU: TIPSv2 g/14 needs one buffer of about 6.0 GB");
    await expect(info).toContainText("These fit: ");
    await expect(page.locator("#infer-url-load")).toBeDisabled();

    // Compatible files by URL (tiny test weights, 2 heads): size first, then a download with progress.
    const fill = async (mode: string) => {
      for (const [part, name] of [
        ["vision", "vision.npz"],
        ["text", "text.npz"],
        ["tokenizer", "tokenizer.model"],
      ])
        await page.fill(`#infer-url-${part}`, `${server.base}/${mode}/${name}`);
    };
    await page.fill("#infer-official-heads", "2");
    await fill("cors");
    await expect(info).toHaveAttribute("data-fits", "true");
    await expect(info).toContainText("to download; this model needs one GPU buffer of about");
    await page.click("#infer-url-load");
    await expect(page.locator("#infer-model")).toHaveAttribute("data-name", "vision.npz + text.npz");
    await expect(page.locator("#infer-url-transfer")).toHaveAttribute("data-downloaded", /^[1-9]\d*$/);
    await expect(progress).toContainText("kept the files in this browser");
    expect(server.gets.sort()).toEqual(["cors/text.npz", "cors/tokenizer.model", "cors/vision.npz"]);
    await screenshot(page, test.info(), "released-models");

    // A second visit reads the browser's copies: nothing is downloaded.
    await page.reload();
    await expect(page.locator("#infer-gpu")).toContainText(/swiftshader/i, { timeout: 120_000 });
    await page.locator("#infer-released summary").click();
    await page.fill("#infer-official-heads", "2");
    await fill("cors");
    await expect(info).toContainText("all 3 files are kept in this browser: nothing to download");
    await page.click("#infer-url-load");
    await expect(page.locator("#infer-url-transfer")).toHaveAttribute("data-downloaded", "0");
    await expect(progress).toHaveText("read from this browser's copy: nothing was downloaded");
    expect(server.gets).toHaveLength(3);

    // Each failure is one line saying what is wrong; nothing of it is kept.
    const failure = async (mode: string, message: string) => {
      await fill(mode);
      await page.click("#infer-url-load");
      await expect(error).toContainText(message, { timeout: 30_000 });
      await expect(progress).toHaveText("stopped");
    };
    await failure(
      "nocors",
      "did not let this page read vision.npz: the server sends no cross-origin (CORS) header",
    );
    await failure("missing", "vision.npz: the server answered 404");
    await failure("cut", "vision.npz: the download broke off after");
    await fill("stall");
    await page.click("#infer-url-load");
    await expect(page.locator("#infer-url-cancel")).toBeVisible();
    await page.click("#infer-url-cancel");
    await expect(error).toContainText("the download of vision.npz was cancelled");
    await failure("stall", "vision.npz: the server sent nothing for 10 s (after 64 B of");
    const kept = await page.evaluate(async () =>
      (await (await caches.open("tips-model-files")).keys()).map((r) => new URL(r.url).pathname).sort(),
    );
    expect(kept).toEqual(["/cors/text.npz", "/cors/tokenizer.model", "/cors/vision.npz"]);
    await expect(page.locator("#infer-model")).toHaveAttribute("data-name", "vision.npz + text.npz");
  } finally {
    await browser.close();
    await server.close();
  }
});
