// The app acquires WebGPU, passes the self-check of every op, and explains itself without WebGPU.
import { type Browser, expect, type Page, test } from "@playwright/test";
import { launchChromium, WEBGPU_FLAGS } from "./chromium";

function recordConsole(page: Page): string[] {
  const lines: string[] = [];
  page.on("console", (m) => lines.push(`[${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => lines.push(`[pageerror] ${e.message}`));
  return lines;
}

let browser: Browser | null = null;

test.afterEach(async () => {
  await browser?.close();
  browser = null;
});

test("self-check passes on WebGPU (SwiftShader)", async ({ baseURL }, testInfo) => {
  browser = await launchChromium(WEBGPU_FLAGS);
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const consoleLines = recordConsole(page);
  await page.goto(`${baseURL}/#selfcheck`);

  await expect(page.locator("#adapter-info")).toContainText("swiftshader", { timeout: 60_000 });
  const status = page.locator("#selfcheck-status[data-state]");
  await status.waitFor({ timeout: testInfo.timeout - 90_000 });

  const screenshot = testInfo.outputPath("selfcheck.png");
  await page.screenshot({ path: screenshot, fullPage: true });
  await testInfo.attach("self-check page", { path: screenshot, contentType: "image/png" });
  await testInfo.attach("console", { body: consoleLines.join("\n"), contentType: "text/plain" });

  const failures = await page
    .locator("td.fail")
    .evaluateAll((cells) => cells.map((c) => c.closest("tr")?.textContent ?? ""));
  expect(failures, "failed cases").toEqual([]);
  await expect(status).toHaveAttribute("data-state", "passed");
  await expect(status).toHaveText(/^self-check passed: (\d+)\/\1$/);
  await expect(page.locator("#gpu-error")).toBeHidden();
});

test("without WebGPU the page says which browsers and flags to use", async ({ baseURL }) => {
  browser = await launchChromium(["--disable-webgpu"]);
  const page = await browser.newPage();
  const consoleLines = recordConsole(page);
  await page.goto(baseURL!);

  const error = page.locator("#gpu-error");
  await expect(error, consoleLines.join("\n")).toBeVisible();
  await expect(error).toContainText("WebGPU");
  await expect(error).toContainText(/Chrome|--enable-unsafe-webgpu/);
  await expect(page.locator("#selfcheck")).toBeHidden();
});
