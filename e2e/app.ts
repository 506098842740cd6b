// What the app's browser tests share: one Chromium with WebGPU and one page per test file (the
// tests of a file run in order on it), the page's console kept beside each test's results, and
// the app's controls by what they mean.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, expect, type Locator, type Page, type TestInfo, test } from "@playwright/test";
import { launchChromium, WEBGPU_FLAGS } from "./chromium";

export const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

/**
 * Registers the file's hooks; `page()` is the shared page once beforeAll has run, and `dir()` a
 * temporary folder (with `tempDir`, its name's prefix) removed after the file's tests.
 */
export function sharedPage(tempDir?: string): { page: () => Page; dir: () => string } {
  let browser: Browser | null = null;
  let page: Page | null = null;
  let dir = "";
  const consoleLines: string[] = [];
  test.beforeAll(async () => {
    if (tempDir) dir = await mkdtemp(join(tmpdir(), tempDir));
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
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  test.afterEach(async () => {
    const path = test.info().outputPath("console.txt");
    await writeFile(path, consoleLines.join("\n"));
    await test.info().attach("console", { path, contentType: "text/plain" });
  });
  return {
    page: () => {
      if (!page) throw new Error("the shared page exists only once beforeAll has run");
      return page;
    },
    dir: () => {
      if (!dir) throw new Error("sharedPage was not asked for a temporary folder");
      return dir;
    },
  };
}

/** `tips shards`: 12 training scenes in two shards of 6 in `dir`; returns the shards' paths. */
export function writeSceneShards(dir: string): string[] {
  const out = execFileSync(
    process.execPath,
    ["bin/tips.mjs", "shards", "--from", "scenes", "--count", "12", "--size", "40"].concat([
      "--samples-per-shard",
      "6",
      "--out",
      dir,
    ]),
    { cwd: ROOT, encoding: "utf8" },
  );
  expect(out.trim()).toBe(join(dir, "scenes-train-{000000..000001}.tar"));
  return [join(dir, "scenes-train-000000.tar"), join(dir, "scenes-train-000001.tar")];
}

export async function screenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: "image/png" });
}

export async function openTab(page: Page, name: "train" | "infer" | "checkpoints"): Promise<void> {
  await page.click(`nav.tabs a[data-page="${name}"]`);
  await expect(page.locator(`#page-${name}`)).toBeVisible();
}

/** Loads the app on the Checkpoints page (so that its list is live), then shows the Train page. */
export async function openTrainPage(page: Page, baseURL: string): Promise<void> {
  await page.goto(`${baseURL}/#checkpoints`);
  await expect(page.locator("#storage-use")).toContainText("checkpoint");
  await openTab(page, "train");
  await expect(page.locator("#train-gpu-name")).toContainText(/swiftshader/i, { timeout: 60_000 });
  await expect(page.locator("#train-start")).toBeEnabled();
}

/** The step counter's value (steps taken). */
export async function stepOf(page: Page): Promise<number> {
  return Number(await page.locator("#run-step").getAttribute("data-step"));
}

/** How long a run may show no new step before a wait gives up, before any step has been timed:
 * the first step compiles every kernel, minutes on a loaded 2-core machine. */
const FIRST_STEP_MS = 240_000;

/**
 * Polls until `done()` holds, for as long as the run keeps moving: it fails only when the step
 * counter has not changed for ten times the longest gap between steps seen so far (or
 * FIRST_STEP_MS before two steps have been seen). A machine under load thus gets the time its own
 * steps take, and a stuck run still fails fast.
 */
async function whileRunMoves(page: Page, done: () => Promise<boolean>, what: string): Promise<void> {
  let step = await stepOf(page);
  let changed = Date.now();
  let longest = 0;
  while (!(await done())) {
    const now = Date.now();
    const s = await stepOf(page);
    if (s !== step) {
      if (step > 0) longest = Math.max(longest, now - changed);
      step = s;
      changed = now;
    }
    const limit = longest > 0 ? Math.max(30_000, 10 * longest) : FIRST_STEP_MS;
    if (now - changed > limit)
      throw new Error(
        `waiting for ${what}: no new step for ${((now - changed) / 1000).toFixed(0)} s (at step ${s})`,
      );
    await page.waitForTimeout(200);
  }
}

export async function waitForStep(page: Page, n: number): Promise<void> {
  await whileRunMoves(page, async () => (await stepOf(page)) >= n, `step ${n}`);
}

/** Waits for the run's status (e.g. "done", /stopped|done/) while its steps keep coming. */
export async function waitForStatus(page: Page, status: string | RegExp): Promise<void> {
  const status_ = page.locator("#run-status");
  await whileRunMoves(
    page,
    async () => {
      const s = (await status_.getAttribute("data-status")) ?? "";
      return typeof status === "string" ? s === status : status.test(s);
    },
    `status ${status}`,
  );
}

/** A checkpoint's row on the Checkpoints page. */
export function checkpointRow(page: Page, name: string): Locator {
  return page.locator(`#checkpoint-rows tr[data-name="${name}"]`);
}
