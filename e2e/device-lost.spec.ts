// A lost GPU device (as a driver reset or a watchdog loses it) stops the run and offers to resume
// from its last autosave, which continues on a new device.
import { expect, type Page, test } from "@playwright/test";
import { checkpointRow, openTrainPage, screenshot, sharedPage, waitForStep } from "./app";

const shared = sharedPage();
let page: Page;
test.beforeEach(() => {
  page = shared.page();
});

const row = (name: string) => checkpointRow(page, name);

test("a lost GPU device offers to resume from the last checkpoint", async ({ baseURL }, testInfo) => {
  await openTrainPage(page, baseURL!);
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
