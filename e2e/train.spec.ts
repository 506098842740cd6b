// The app on WebGPU (SwiftShader): a tips-test run updates its curves and metrics, saves to
// IndexedDB, resumes from the Checkpoints page after a reload; checkpoints export and import as
// files; the Inference page runs the saved checkpoint on an uploaded image; a corrupt file is
// refused with the reason; a lost device offers to resume from the last save; without WebGPU the
// pages say what to do.
// The tests share one page (and so one IndexedDB) and run in order.
import { createHash } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { expect, type Page, test } from "@playwright/test";
import sharp from "sharp";
import {
  checkpointRow,
  openTab,
  openTrainPage,
  screenshot,
  sharedPage,
  stepOf,
  waitForStatus,
  waitForStep,
} from "./app";
import { launchChromium } from "./chromium";

test.describe.configure({ mode: "serial" });

const shared = sharedPage();
let page: Page;
test.beforeEach(() => {
  page = shared.page();
});

const row = (name: string) => checkpointRow(page, name);

async function sha256(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

/**
 * More steps than the test lets run: it pauses the run mid-way (Pause is disabled once a run has
 * ended, and a click waits for its button). 30 were once enough; on a CPU adapter's own kernels
 * tips-test trains at about 10 images/s, and a resumed run reached its end before the test
 * stopped it.
 */
const STEPS = 200;
let savedStep = 0;
let exportedFile = "";

test("a tips-test run updates its curves, saves to IndexedDB and resumes after a reload", async ({
  baseURL,
}, testInfo) => {
  await openTrainPage(page, baseURL!);
  await expect(page.locator("#checkpoint-empty")).not.toHaveAttribute("hidden");
  // The name an unnamed run would get follows the preset (the CPU adapter chose tips-test).
  const name = page.locator("#set-name");
  await expect(name).toHaveAttribute("placeholder", /^tips-test \d{4}-\d\d-\d\d \d\d:\d\d$/);

  // A batch whose activations no buffer of this adapter can hold: refused before anything runs.
  await page.selectOption("#set-preset", "tips-micro");
  await expect(name).toHaveAttribute("placeholder", /^tips-micro \d{4}-/);
  await page.fill("#set-batch", "100000");
  await page.click("#train-start");
  await expect(page.locator("#run-error-title")).toHaveText("Could not start the run");
  await expect(page.locator("#run-error-message")).toContainText(
    "this GPU cannot hold tips-micro at 100000 examples per micro-batch",
  );
  await expect(page.locator("#run-error-message")).toContainText("lower the batch");

  await page.selectOption("#set-preset", "tips-test");
  await page.fill("#set-batch", "4");
  await page.fill("#set-steps", String(STEPS));
  await page.fill("#set-name", "e2e run");
  await page.fill("#probe-every", "2");
  // SPARC and RILS are offered, off by default (their kernels run in the self-check).
  await expect(page.locator("#set-term-sparc")).not.toBeChecked();
  await expect(page.locator("#set-term-rils")).not.toBeChecked();
  const started = Date.now();
  await page.click("#train-start");
  await expect(page.locator("#run-status")).toHaveAttribute("data-status", "running");
  await expect(page.locator("#set-batch")).toBeDisabled();

  // The metrics change from step to step, and the curves grow.
  await waitForStep(page, 2);
  // What a start and two steps took on this machine, under whatever else it runs: the wait for
  // the resumed run to load below is sized from it rather than guessed.
  const startup = Math.max(30_000, 4 * (Date.now() - started));
  const first = await page.locator("#metric-total").textContent();
  const step = await stepOf(page);
  await waitForStep(page, step + 1);
  const second = await page.locator("#metric-total").textContent();
  expect(Number(first)).toBeGreaterThan(0);
  expect(second, "the total loss shown changes between steps").not.toBe(first);
  for (const id of [
    "#metric-web",
    "#metric-syn",
    "#metric-dino",
    "#metric-mim",
    "#metric-lr",
    "#metric-grad",
  ])
    await expect(page.locator(id)).toHaveText(/^\d/);
  await expect(page.locator("#metric-ips")).toHaveText(/^\d+\.\d+$/);
  await expect(page.locator("#run-step")).toHaveAttribute("data-first-reported", "1");
  await expect(page.locator("#run-eta")).toHaveText(/^ETA \d/);
  await expect(page.locator("#count-nan")).toHaveAttribute("data-count", "0");
  await expect(page.locator("#count-skipped")).toHaveAttribute("data-count", "0");
  for (const chart of ["#chart-loss", "#chart-lr", "#chart-grad", "#chart-ips"]) {
    expect(Number(await page.locator(chart).getAttribute("data-points"))).toBeGreaterThanOrEqual(3);
    await expect(page.locator(`${chart} canvas`)).toHaveCount(1);
  }
  await expect(page.locator("#chart-loss .u-legend")).toContainText("synthetic CLIP");
  // A switch per curve: the terms this run leaves off (SPARC, RILS) are hidden and cannot be
  // shown; a term hidden by its switch stays hidden when the chart switches to a log scale, and
  // the legend and the switches agree whichever is clicked.
  const legend = (label: string) => page.locator("#chart-loss .u-legend .u-series", { hasText: label });
  for (const term of ["sparc", "rils"]) {
    await expect(page.locator(`#loss-show-${term}`)).toBeDisabled();
    await expect(page.locator(`#loss-show-${term}`)).not.toBeChecked();
  }
  await expect(legend("SPARC")).toHaveClass(/u-off/);
  await expect(legend("DINO")).not.toHaveClass(/u-off/);
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  const total = legend("total");
  await page.uncheck("#loss-show-total");
  await expect(total).toHaveClass(/u-off/);
  await page.check("#loss-log");
  await expect(page.locator("#chart-loss")).toHaveAttribute("data-scale", "log");
  await expect(page.locator("#chart-loss canvas")).toHaveCount(1);
  expect((await page.locator("#chart-loss canvas").boundingBox())?.width).toBeGreaterThan(400);
  expect(pageErrors, "the log scale draws without errors").toEqual([]);
  await expect(total).toHaveClass(/u-off/);
  await expect(page.locator("#loss-show-total")).not.toBeChecked();
  await total.click();
  await expect(total).not.toHaveClass(/u-off/);
  await expect(page.locator("#loss-show-total")).toBeChecked();
  const bar = Number(await page.locator(".bar[role=progressbar]").getAttribute("aria-valuenow"));
  expect(bar).toBeGreaterThan(0);
  // The live probes refresh every 2 steps from the trainer's model: their maps change as it learns.
  const probes = page.locator("#probe-grid");
  await expect(probes.locator("figure")).toHaveCount(4, { timeout: 120_000 });
  const probeStep = () => probes.getAttribute("data-step").then(Number);
  const firstProbe = await probeStep();
  const before = { pca: await pixels(".probe-pca >> nth=0"), heat: await pixels(".probe-heat >> nth=0") };
  expect(await colours(".probe-pca >> nth=0"), "a probe's PCA map is not one flat colour").toBeGreaterThan(2);
  await page.fill("#probe-query", "a blue square");
  await page.locator("#probe-query").dispatchEvent("change");
  await expect.poll(probeStep, { timeout: 120_000 }).toBeGreaterThan(firstProbe);
  await expect(probes).toHaveAttribute("data-query", "a blue square", { timeout: 120_000 });
  expect(await pixels(".probe-pca >> nth=0"), "the PCA map changes between refreshes").not.toBe(before.pca);
  expect(await pixels(".probe-heat >> nth=0"), "the heatmap changes between refreshes").not.toBe(before.heat);
  await expect(page.locator("#probe-retrieval tbody tr")).toHaveCount(4);
  await expect(page.locator("#probe-status")).toContainText("R@1 among 4 captions");
  // The retrieval table: each image's own captions once (four different ones in each column),
  // and for CLS#1 and CLS#2 the caption ranked first, ✓ its own or the row of the one retrieved.
  await expect(probes.locator("figcaption").first()).toHaveText("#1 · held-out scene 0");
  const retrieval = page.locator("#probe-retrieval tbody tr");
  for (const column of [2, 4])
    expect(new Set(await retrieval.locator(`td:nth-child(${column})`).allTextContents()).size).toBe(4);
  const picks = await retrieval.evaluateAll((rows) =>
    rows.map((row) =>
      [...row.querySelectorAll<HTMLElement>("td.pick")].map((td) => [
        Number(td.dataset.pick),
        td.textContent,
      ]),
    ),
  );
  picks.forEach((row, i) => {
    expect(row).toHaveLength(2);
    for (const [pick, text] of row) expect(text).toBe(pick === i + 1 ? "✓ own" : `✗ #${pick}`);
  });
  await screenshot(page, testInfo, "train-running");

  // Pause (the steps in flight finish), save, and see the entry in the catalogue.
  await waitForStep(page, 4);
  await page.click("#train-pause");
  await waitForStatus(page, "paused");
  savedStep = await stepOf(page);
  expect(savedStep).toBeGreaterThanOrEqual(4);
  expect(savedStep).toBeLessThan(STEPS);
  await page.click("#train-save");
  await expect(row("e2e run")).toHaveAttribute("data-step", String(savedStep), { timeout: 60_000 });
  await expect(page.locator("#run-checkpoint")).toContainText(`at step ${savedStep}`);
  await expect(page.locator("#storage-use")).toContainText("1 checkpoint");
  await screenshot(page, testInfo, "train-paused-saved");
  await openTab(page, "checkpoints");
  await expect(row("e2e run")).toBeVisible();
  await screenshot(page, testInfo, "checkpoints");
  await openTab(page, "train");
  // Still paused: the step counter stays put.
  await page.waitForTimeout(1500);
  expect(await stepOf(page)).toBe(savedStep);

  // A reload forgets the run; the checkpoint stays, and resuming it on the Checkpoints page
  // continues from its step on the Train page.
  await openTab(page, "checkpoints");
  await page.reload();
  await expect(page.locator("#page-checkpoints")).toBeVisible();
  await expect(row("e2e run")).toHaveAttribute("data-step", String(savedStep));
  await row("e2e run").locator('button[data-action="resume"]').click();
  await expect(page.locator("#page-train")).toBeVisible();
  await expect(page.locator("#run-step")).toHaveAttribute("data-resumed-from", String(savedStep), {
    timeout: startup,
  });
  await expect(page.locator("#set-steps")).toHaveValue(String(STEPS));
  await expect(page.locator("#set-preset")).toHaveValue("tips-test");
  // The curves saved with the checkpoint came back with it (the resumed run may already have
  // added a step by now, so the count loaded is read from its own attribute).
  for (const chart of ["#chart-loss", "#chart-lr", "#chart-grad", "#chart-ips"])
    await expect(page.locator(chart)).toHaveAttribute("data-loaded-points", String(savedStep));
  await waitForStep(page, savedStep + 2);
  // The first step the resumed run reports is the one after the saved step.
  await expect(page.locator("#run-step")).toHaveAttribute("data-first-reported", String(savedStep + 1));
  await screenshot(page, testInfo, "train-resumed");
  // Stop, unless the run reached its last step first (done: as good for what follows). Checked
  // and clicked in one turn of the page, so that the button cannot turn disabled in between.
  await page.locator("#train-stop").evaluate((b: HTMLButtonElement) => {
    if (!b.disabled) b.click();
  });
  await waitForStatus(page, /stopped|done/);
  // Once it has stopped: one point per step, the saved ones and each new one, no gap and no repeat.
  const last = await stepOf(page);
  expect(last).toBeGreaterThanOrEqual(savedStep + 2);
  expect(Number(await page.locator("#chart-loss").getAttribute("data-points"))).toBe(last);
});

test("a checkpoint exports as a .safetensors file and imports back byte for byte", async () => {
  const testInfo = test.info();
  test.skip(savedStep === 0, "needs the checkpoint of the first test");
  await openTab(page, "checkpoints");
  const entries = page.locator("#checkpoint-rows tr");
  const before = await entries.count();
  const size = Number(await row("e2e run").getAttribute("data-size"));

  const download = page.waitForEvent("download");
  await row("e2e run").locator('button[data-action="export"]').click();
  const exported = await download;
  expect(exported.suggestedFilename()).toBe("e2e-run.safetensors");
  const file = testInfo.outputPath("e2e-run.safetensors");
  await exported.saveAs(file);
  expect((await stat(file)).size).toBe(size);
  exportedFile = file;

  await page.setInputFiles("#import-file", file);
  await expect(entries).toHaveCount(before + 1);
  await expect(row("e2e-run")).toHaveAttribute("data-step", String(savedStep));
  await expect(row("e2e-run")).toHaveAttribute("data-size", String(size));
  await expect(page.locator("#checkpoint-note")).toContainText("Imported “e2e-run”");
  await expect(page.locator("#import-error")).toBeHidden();
  // The same file again: a second entry with a name of its own.
  await page.setInputFiles("#import-file", file);
  await expect(row("e2e-run (2)")).toHaveAttribute("data-step", String(savedStep));
  await expect(row("e2e-run")).toHaveCount(1);
  const delSecond = row("e2e-run (2)").locator('button[data-action="delete"]');
  await delSecond.click();
  await delSecond.click();
  await expect(row("e2e-run (2)")).toHaveCount(0);

  // The imported copy exports the same bytes.
  const again = page.waitForEvent("download");
  await row("e2e-run").locator('button[data-action="export"]').click();
  const copy = testInfo.outputPath("e2e-run-copy.safetensors");
  await (await again).saveAs(copy);
  expect(await sha256(copy)).toBe(await sha256(file));

  // Rename and delete the copy.
  await row("e2e-run").locator('button[data-action="rename"]').click();
  const input = page.locator("#checkpoint-rows input.rename");
  await input.fill("imported copy");
  await input.press("Enter");
  await expect(row("imported copy")).toHaveCount(1);
  const del = row("imported copy").locator('button[data-action="delete"]');
  await del.click();
  await expect(del).toHaveText("Confirm delete");
  await del.click();
  await expect(row("imported copy")).toHaveCount(0);
  await expect(entries).toHaveCount(before);
});

/** The canvas's pixels, as a data URL (equal strings: equal pixels). */
function pixels(selector: string): Promise<string> {
  return page.locator(selector).evaluate((c) => (c as HTMLCanvasElement).toDataURL());
}

/** How many distinct colours the canvas shows. */
function colours(selector: string): Promise<number> {
  return page.locator(selector).evaluate((c) => {
    const canvas = c as HTMLCanvasElement;
    const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set<number>();
    for (let i = 0; i < data.length; i += 4) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    return seen.size;
  });
}

/** A 96 x 64 PNG: a red disc and a blue rectangle on a grey-blue ground. */
function shapesPng(): Promise<Buffer> {
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="64"><rect width="96" height="64" fill="#7ab"/>' +
    '<circle cx="30" cy="32" r="18" fill="red"/><rect x="60" y="14" width="28" height="36" fill="blue"/></svg>';
  return sharp(Buffer.from(svg)).png().toBuffer();
}

test("the Inference page runs a saved checkpoint on an uploaded image; bad files say what is wrong", async () => {
  const testInfo = test.info();
  test.skip(savedStep === 0, "needs the checkpoint of the first test");
  await openTab(page, "infer");
  await expect(page.locator("#infer-gpu")).toContainText(/swiftshader/i, { timeout: 120_000 });
  await page.selectOption("#infer-checkpoint", { label: `e2e run — tips-test, step ${savedStep}` });
  await page.click("#infer-load-checkpoint");
  await expect(page.locator("#infer-model")).toHaveAttribute("data-name", "e2e run");
  await expect(page.locator("#infer-size option")).toHaveCount(5);

  await page.setInputFiles("#infer-image-file", {
    name: "shapes.png",
    mimeType: "image/png",
    buffer: await shapesPng(),
  });
  await expect(page.locator("#infer-image-name")).toContainText("shapes.png · 96 × 64");
  const heat = page.locator("#infer-heat");
  await expect(heat).toHaveAttribute("data-query", "a red circle", { timeout: 120_000 });
  await expect(page.locator("#infer-pca")).toHaveAttribute("data-size", "16");
  expect(
    await colours("#infer-pca"),
    "the PCA map has a colour per patch, not one flat colour",
  ).toBeGreaterThan(4);

  // A new query redraws the heatmap with other pixels.
  const before = await pixels("#infer-heat");
  await page.fill("#infer-query", "a blue square");
  await expect(heat).toHaveAttribute("data-query", "a blue square");
  expect(await pixels("#infer-heat"), "the heatmap changes with the query").not.toBe(before);

  // Segmentation over the four class names, and the captions ranked by CLS#1 and CLS#2.
  await expect(page.locator("#infer-seg")).toHaveAttribute("data-classes", "4");
  await expect(page.locator("#infer-legend li")).toHaveCount(4);
  const won = await page
    .locator("#infer-legend li")
    .evaluateAll((li) => li.map((x) => Number((x as HTMLElement).dataset.count)));
  expect(
    won.reduce((a, b) => a + b, 0),
    "every patch gets a class",
  ).toBe(16);
  await expect(page.locator("#infer-caption-rows tr")).toHaveCount(3);
  await expect(page.locator("#infer-caption-rows td.top")).toHaveCount(2);

  // Equal captions tie, and a tie is shown as one: every value equal to a column's best in bold.
  const captions = page.locator("#infer-captions");
  const captionRows = page.locator("#infer-caption-rows tr");
  await captions.fill("a red circle\na red circle");
  await expect(captionRows).toHaveCount(2);
  await expect(page.locator("#infer-caption-rows td.top")).toHaveCount(4);
  // Rows in the order typed; a column's header sorts by it, highest first.
  const typed = ["a green triangle", "a blue square on grass", "a photo of a red circle"];
  await captions.fill(typed.join("\n"));
  await expect(captionRows.locator("td.caption")).toHaveText(typed);
  await page.click('#infer-caption-table button[data-sort="cls1"]');
  const cls1 = (await captionRows.locator("td:nth-child(2)").allTextContents()).map(Number);
  expect(cls1).toEqual([...cls1].sort((a, b) => b - a));
  await page.click('#infer-caption-table button[data-sort="typed"]');
  await expect(captionRows.locator("td.caption")).toHaveText(typed);
  await screenshot(page, testInfo, "infer");

  // An emptied query, class list or caption list leaves no map, legend or table of the old text.
  await page.fill("#infer-query", "");
  await expect(heat).toHaveAttribute("data-query", "");
  await expect(page.locator("#infer-heat-lo")).toHaveText("—");
  const classes = page.locator("#infer-classes");
  const classNames = await classes.inputValue();
  await classes.fill("");
  await expect(page.locator("#infer-seg")).toHaveAttribute("data-classes", "0");
  await expect(page.locator("#infer-legend li[data-count]")).toHaveCount(0);
  await captions.fill("");
  await expect(page.locator("#infer-caption-table")).toBeHidden();
  await page.fill("#infer-query", "a blue square");
  await classes.fill(classNames);
  await captions.fill(typed.join("\n"));
  await expect(heat).toHaveAttribute("data-query", "a blue square");
  await expect(page.locator("#infer-seg")).toHaveAttribute("data-classes", "4");
  await expect(page.locator("#infer-caption-table")).toBeVisible();

  // A higher resolution: more patches, a new PCA map.
  const pca16 = await pixels("#infer-pca");
  await page.selectOption("#infer-size", "32");
  // The maps of the old resolution stay, dimmed, until the new ones come.
  await expect(page.locator("#infer-results")).toHaveClass(/pending/);
  await expect(page.locator("#infer-pca")).toHaveAttribute("data-size", "32", { timeout: 120_000 });
  await expect(page.locator("#infer-results")).not.toHaveClass(/pending/);
  await expect(heat).toHaveAttribute("data-size", "32");
  expect(await pixels("#infer-pca")).not.toBe(pca16);

  // The exported file loads too; a file that is not a checkpoint says why and keeps the encoder.
  await page.setInputFiles("#infer-file", exportedFile);
  await expect(page.locator("#infer-model")).toHaveAttribute("data-name", "e2e-run.safetensors");
  await page.setInputFiles("#infer-file", {
    name: "garbage.safetensors",
    mimeType: "application/octet-stream",
    buffer: Buffer.from("this is not a checkpoint at all"),
  });
  const encoderError = page.locator("#infer-encoder-error");
  await expect(encoderError).toContainText("garbage.safetensors: ");
  await expect(encoderError).toContainText("not a valid safetensors file");
  await expect(page.locator("#infer-model")).toHaveAttribute("data-name", "e2e-run.safetensors");

  // The loaded encoder evaluated on held-out scenes (tiny, so it is quick); a bad setting is named.
  await page.fill("#infer-eval-train", "1");
  await page.click("#infer-eval-run");
  await expect(page.locator("#infer-eval-error")).toContainText(
    "Train scenes takes a whole number from 2 to 4096",
  );
  await page.fill("#infer-eval-train", "6");
  await page.fill("#infer-eval-test", "4");
  await page.fill("#infer-eval-steps", "5");
  await page.click("#infer-eval-run");
  await expect(page.locator("#infer-eval-status")).toContainText(
    "e2e-run.safetensors: 6 train / 4 held-out scenes",
    {
      timeout: 180_000,
    },
  );
  await expect(page.locator("#infer-eval-error")).toBeHidden();
  const evalRows = page.locator("#infer-eval-rows tr");
  await expect(evalRows).toHaveCount(8);
  await expect(evalRows.first()).toContainText(/segmentation mIoU .*\d\.\d{3}.*all background/);

  // An image that cannot be decoded.
  await page.setInputFiles("#infer-image-file", {
    name: "notes.png",
    mimeType: "image/png",
    buffer: Buffer.from("plain text"),
  });
  await expect(page.locator("#infer-image-error")).toContainText("notes.png: it cannot be decoded");
  // No maps of the image before it; a good image then clears the error and brings them back.
  await expect(page.locator("#infer-results")).toBeHidden();
  await page.setInputFiles("#infer-image-file", {
    name: "shapes.png",
    mimeType: "image/png",
    buffer: await shapesPng(),
  });
  await expect(page.locator("#infer-image-error")).toBeHidden();
  await expect(page.locator("#infer-image-name")).toContainText("shapes.png · 96 × 64");
  await expect(page.locator("#infer-results")).toBeVisible({ timeout: 120_000 });

  // The official release's files without the tokenizer, then with it (tiny test weights, 2 heads).
  await page.locator("#infer-official summary").click();
  await page.setInputFiles("#infer-official-vision", "test/fixtures/official/vision.npz");
  await page.setInputFiles("#infer-official-text", "test/fixtures/official/text.npz");
  await page.click("#infer-load-official");
  await expect(encoderError).toContainText("tokenizer.model");
  await page.setInputFiles("#infer-official-tokenizer", "test/fixtures/official/tokenizer.model");
  await page.fill("#infer-official-heads", "2");
  await page.click("#infer-load-official");
  await expect(page.locator("#infer-model")).toHaveAttribute("data-name", "vision.npz + text.npz");
  await expect(encoderError).toBeHidden();
  await screenshot(page, testInfo, "infer-errors");
});

test("importing a corrupt or truncated file shows what is wrong and saves nothing", async () => {
  const testInfo = test.info();
  await openTab(page, "checkpoints");
  const entries = page.locator("#checkpoint-rows tr");
  const before = await entries.count();
  const error = page.locator("#import-error");

  await page.setInputFiles("#import-file", {
    name: "garbage.safetensors",
    mimeType: "application/octet-stream",
    buffer: Buffer.from("this is not a checkpoint at all, just some text"),
  });
  await expect(error).toBeVisible();
  await expect(error).toContainText("garbage.safetensors");
  await expect(error).toContainText("not a valid safetensors file");
  await expect(error).toContainText("Nothing was saved");
  await screenshot(page, testInfo, "checkpoints-import-error");

  // A real checkpoint cut short.
  if (exportedFile) {
    const whole = await readFile(exportedFile);
    const cut = testInfo.outputPath("cut.safetensors");
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    await page.setInputFiles("#import-file", cut);
    await expect(error).toContainText("cut.safetensors");
    await expect(error).toContainText("not a valid safetensors file");
  }

  // Safetensors, but not a training checkpoint.
  const header = new TextEncoder().encode(JSON.stringify({ __metadata__: { format: "something-else" } }));
  const bytes = Buffer.alloc(8 + header.length);
  bytes.writeBigUInt64LE(BigInt(header.length), 0);
  bytes.set(header, 8);
  await page.setInputFiles("#import-file", {
    name: "other.safetensors",
    mimeType: "application/octet-stream",
    buffer: bytes,
  });
  await expect(error).toContainText("other.safetensors");
  await expect(error).toContainText("not a TIPS training checkpoint");
  await expect(entries).toHaveCount(before);
});

test("a lost GPU device offers to resume from the last checkpoint", async ({ baseURL }, testInfo) => {
  await openTrainPage(page, baseURL!);
  await page.selectOption("#set-preset", "tips-test");
  await page.fill("#set-batch", "4");
  await page.fill("#set-steps", String(STEPS)); // stopped by the test, not ended
  await page.fill("#set-name", "autosaved run");
  await page.fill("#set-save-every", "2");
  await page.click("#train-start");
  await expect(row("autosaved run")).toHaveCount(1, { timeout: 120_000 });
  const saved = Number(await row("autosaved run").getAttribute("data-step"));
  expect(saved).toBeGreaterThanOrEqual(2);

  const worker = page.workers().find((w) => w.url().includes("train/worker"));
  expect(worker, "the trainer worker is running").toBeTruthy();
  await worker!.evaluate(() =>
    (self as unknown as { tipsTestHooks: { loseDevice(): void } }).tipsTestHooks.loseDevice(),
  );
  const error = page.locator("#run-error");
  await expect(error).toBeVisible({ timeout: 60_000 });
  await expect(page.locator("#run-error-title")).toHaveText("The GPU device was lost");
  await expect(page.locator("#run-status")).toHaveAttribute("data-status", "failed");
  const resume = page.locator("#run-error-resume");
  await expect(resume).toBeVisible();
  await expect(resume).toContainText("autosaved run");
  await screenshot(page, testInfo, "train-device-lost");

  // The checkpoint it offers may be newer than the one seen above: autosaves went on.
  const from = Number(await row("autosaved run").getAttribute("data-step"));
  await resume.click();
  await expect(error).toBeHidden();
  await expect(page.locator("#run-step")).toHaveAttribute("data-resumed-from", String(from));
  await waitForStep(page, from + 1);
  await page.click("#train-stop");
  await expect(page.locator("#run-status")).toHaveAttribute("data-status", "stopped", { timeout: 60_000 });
});

test("without WebGPU the Train and Inference pages say what to do; checkpoints are still listed", async ({
  baseURL,
}) => {
  // This Chromium with WebGPU switched off still has navigator.gpu, which gives no adapter (as a
  // browser without a usable GPU does). The message speaks to someone in a browser: which
  // browsers, which setting and flags, and nothing of Node's Vulkan drivers.
  const noGpu = await launchChromium(["--disable-webgpu"]);
  try {
    const p = await noGpu.newPage();
    await p.goto(baseURL!);
    const error = p.locator("#gpu-error");
    await expect(error).toBeVisible();
    await expect(error).toContainText("WebGPU is not available");
    await expect(error).toContainText("gave no GPU adapter: turn on hardware acceleration");
    await expect(error).toContainText("Chrome or Edge 113+");
    await expect(error).toContainText("--enable-unsafe-webgpu");
    await expect(error).not.toContainText(/VK_ICD_FILENAMES|LD_LIBRARY_PATH|Dawn/);
    await expect(p.locator("#train-start")).toBeDisabled();
    await expect(p.locator("#run-status")).toHaveAttribute("data-status", "nogpu");
    await p.click('nav.tabs a[data-page="checkpoints"]');
    await expect(p.locator("#checkpoint-empty")).toBeVisible();
    await p.click('nav.tabs a[data-page="infer"]');
    await expect(p.locator("#infer-gpu")).toContainText("no WebGPU device");
    await expect(error).toBeVisible();
  } finally {
    await noGpu.close();
  }
});
