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

export async function waitForStep(page: Page, n: number, timeout = 120_000): Promise<void> {
  await expect
    .poll(() => stepOf(page), { timeout, message: `step counter reaches ${n}` })
    .toBeGreaterThanOrEqual(n);
}

/** A checkpoint's row on the Checkpoints page. */
export function checkpointRow(page: Page, name: string): Locator {
  return page.locator(`#checkpoint-rows tr[data-name="${name}"]`);
}
