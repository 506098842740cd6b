// Resuming a run that has already finished: the page says so at once (status done, no wait on
// "compiling kernels"), with the trained checkpoint of test/fixtures/trained (80 of 80 steps).
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { checkpointRow, openTab, openTrainPage, ROOT, sharedPage } from "./app";

const FIXTURE = join(ROOT, "test/fixtures/trained/tips-test-80.safetensors");
const shared = sharedPage();

test("resuming a finished run says it is finished", async ({ baseURL }) => {
  const page = shared.page();
  await openTrainPage(page, baseURL!);
  await openTab(page, "checkpoints");
  await page.setInputFiles("#import-file", FIXTURE);
  const row = checkpointRow(page, "tips-test-80");
  await expect(row).toHaveAttribute("data-step", "80");
  await row.locator('button[data-action="resume"]').click();

  await expect(page.locator("#run-step")).toHaveAttribute("data-resumed-from", "80");
  await expect(page.locator("#run-status")).toHaveAttribute("data-status", "done");
  await expect(page.locator("#run-eta")).toHaveText(
    "this run already finished at step 80 of 80: to train its model further, start a new run from this checkpoint (Start from)",
  );
  await expect(page.locator("#run-error")).toBeHidden();
});
