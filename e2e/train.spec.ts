// The Train page on WebGPU (SwiftShader): a tips-test run updates its curves and metrics, saves to
// IndexedDB, resumes after a reload from the saved step; checkpoints export and import as files;
// a corrupt file is refused with the reason; a lost device offers to resume from the last save.
// The tests share one page (and so one IndexedDB) and run in order.
import { createHash } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { type Browser, expect, type Locator, type Page, type TestInfo, test } from "@playwright/test";
import { launchChromium, WEBGPU_FLAGS } from "./chromium";

test.describe.configure({ mode: "serial" });

let browser: Browser | null = null;
let page: Page;
const consoleLines: string[] = [];

test.beforeAll(async () => {
  browser = await launchChromium(WEBGPU_FLAGS);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page.on("console", (m) =>
    consoleLines.push(`${(performance.now() / 1000).toFixed(1)} [${m.type()}] ${m.text()}`),
  );
  page.on("pageerror", (e) => consoleLines.push(`[pageerror] ${e.message}`));
});

test.afterAll(async () => {
  await browser?.close();
  browser = null;
});

test.afterEach(async () => {
  const path = test.info().outputPath("console.txt");
  await writeFile(path, consoleLines.join("\n"));
  await test.info().attach("console", { path, contentType: "text/plain" });
});

async function screenshot(testInfo: TestInfo, name: string): Promise<void> {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: "image/png" });
}

/** The step counter's value (steps taken). */
async function stepOf(): Promise<number> {
  return Number(await page.locator("#run-step").getAttribute("data-step"));
}

async function waitForStep(n: number, timeout = 120_000): Promise<void> {
  await expect.poll(stepOf, { timeout, message: `step counter reaches ${n}` }).toBeGreaterThanOrEqual(n);
}

function row(name: string): Locator {
  return page.locator(`#checkpoint-rows tr[data-name="${name}"]`);
}

async function sha256(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

async function openTrainPage(baseURL: string): Promise<void> {
  await page.goto(baseURL);
  await expect(page.locator("#train-gpu-name")).toContainText(/swiftshader/i, { timeout: 60_000 });
  await expect(page.locator("#train-start")).toBeEnabled();
}

/** Long enough that a pause lands mid-run (up to 3 steps are recorded ahead of the counter). */
const STEPS = 30;
let savedStep = 0;
let exportedFile = "";

test("a tips-test run updates its curves, saves to IndexedDB and resumes after a reload", async ({
  baseURL,
}, testInfo) => {
  await openTrainPage(baseURL!);
  await expect(page.locator("#checkpoint-empty")).toBeVisible();
  await page.selectOption("#set-preset", "tips-test");
  await page.fill("#set-batch", "4");
  await page.fill("#set-steps", String(STEPS));
  await page.fill("#set-name", "e2e run");
  // SPARC and RILS are offered, off by default (their kernels run in the self-check).
  await expect(page.locator("#set-term-sparc")).not.toBeChecked();
  await expect(page.locator("#set-term-rils")).not.toBeChecked();
  await page.click("#train-start");
  await expect(page.locator("#run-status")).toHaveAttribute("data-status", "running");
  await expect(page.locator("#set-batch")).toBeDisabled();

  // The metrics change from step to step, and the curves grow.
  await waitForStep(2);
  const first = await page.locator("#metric-total").textContent();
  const step = await stepOf();
  await waitForStep(step + 1);
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
  const bar = Number(await page.locator(".bar[role=progressbar]").getAttribute("aria-valuenow"));
  expect(bar).toBeGreaterThan(0);
  await screenshot(testInfo, "train-running");

  // Pause (the steps in flight finish), save, and see the entry in the catalogue.
  await waitForStep(4);
  await page.click("#train-pause");
  await expect(page.locator("#run-status")).toHaveAttribute("data-status", "paused", { timeout: 60_000 });
  savedStep = await stepOf();
  expect(savedStep).toBeGreaterThanOrEqual(4);
  expect(savedStep).toBeLessThan(STEPS);
  await page.click("#train-save");
  await expect(row("e2e run")).toHaveAttribute("data-step", String(savedStep), { timeout: 60_000 });
  await expect(page.locator("#run-checkpoint")).toContainText(`at step ${savedStep}`);
  await expect(page.locator("#storage-use")).toContainText("1 checkpoint");
  await screenshot(testInfo, "train-paused-saved");
  // Still paused: the step counter stays put.
  await page.waitForTimeout(1500);
  expect(await stepOf()).toBe(savedStep);

  // A reload forgets the run; the checkpoint stays, and resuming continues from its step.
  await page.reload();
  await expect(page.locator("#train-start")).toBeEnabled({ timeout: 60_000 });
  await expect(row("e2e run")).toHaveAttribute("data-step", String(savedStep));
  await row("e2e run").locator('button[data-action="resume"]').click();
  await expect(page.locator("#run-step")).toHaveAttribute("data-resumed-from", String(savedStep));
  await expect(page.locator("#set-steps")).toHaveValue(String(STEPS));
  await expect(page.locator("#set-preset")).toHaveValue("tips-test");
  // The curves saved with the checkpoint are back before the first new step.
  expect(Number(await page.locator("#chart-loss").getAttribute("data-points"))).toBe(savedStep);
  await expect(page.locator("#run-step")).toHaveText(`step ${savedStep} / ${STEPS}`);
  await waitForStep(savedStep + 2);
  // The first step the resumed run reports is the one after the saved step.
  await expect(page.locator("#run-step")).toHaveAttribute("data-first-reported", String(savedStep + 1));
  expect(Number(await page.locator("#chart-loss").getAttribute("data-points"))).toBeGreaterThanOrEqual(
    savedStep + 2,
  );
  await screenshot(testInfo, "train-resumed");
  await page.click("#train-stop");
  await expect(page.locator("#run-status")).toHaveAttribute("data-status", /stopped|done/, {
    timeout: 60_000,
  });
});

test("a checkpoint exports as a .safetensors file and imports back byte for byte", async () => {
  const testInfo = test.info();
  test.skip(savedStep === 0, "needs the checkpoint of the first test");
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

test("importing a corrupt or truncated file shows what is wrong and saves nothing", async () => {
  const testInfo = test.info();
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
  await screenshot(testInfo, "train-import-error");

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
  await openTrainPage(baseURL!);
  await page.selectOption("#set-preset", "tips-test");
  await page.fill("#set-batch", "4");
  await page.fill("#set-steps", "40");
  await page.fill("#set-name", "autosaved run");
  await page.fill("#set-save-every", "2");
  await page.click("#train-start");
  await expect(row("autosaved run")).toHaveCount(1, { timeout: 120_000 });
  const saved = Number(await row("autosaved run").getAttribute("data-step"));
  expect(saved).toBeGreaterThanOrEqual(2);

  const worker = page.workers().find((w) => w.url().includes("trainer.worker"));
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
  await screenshot(testInfo, "train-device-lost");

  // The checkpoint it offers may be newer than the one seen above: autosaves went on.
  const from = Number(await row("autosaved run").getAttribute("data-step"));
  await resume.click();
  await expect(error).toBeHidden();
  await expect(page.locator("#run-step")).toHaveAttribute("data-resumed-from", String(from));
  await waitForStep(from + 1);
  await page.click("#train-stop");
  await expect(page.locator("#run-status")).toHaveAttribute("data-status", "stopped", { timeout: 60_000 });
});

test("without WebGPU the Train page says so and still lists checkpoints", async ({ baseURL }) => {
  const noGpu = await launchChromium(["--disable-webgpu"]);
  try {
    const p = await noGpu.newPage();
    await p.goto(baseURL!);
    const error = p.locator("#gpu-error");
    await expect(error).toBeVisible();
    await expect(error).toContainText("WebGPU");
    await expect(error).toContainText(/Chrome|--enable-unsafe-webgpu/);
    await expect(p.locator("#train-start")).toBeDisabled();
    await expect(p.locator("#run-status")).toHaveAttribute("data-status", "nogpu");
    await expect(p.locator("#checkpoint-empty")).toBeVisible();
  } finally {
    await noGpu.close();
  }
});
