// The Train page on shards picked as files: shards written by `tips shards` and one whose images
// are all corrupt are picked in the Dataset section; the data worker decodes them and feeds the
// trainer worker, tips-test trains a few steps with losses shown, and the corrupt images are
// counted as skipped. A second run reads the shards from URLs, one of which fails (counted), a
// third trains on the built-in openmoji.
// Resuming the saved run needs the same files picked again, and says so.
import { readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { expect, type Page, test } from "@playwright/test";
import {
  checkpointRow,
  openTab,
  openTrainPage,
  sharedPage,
  stepOf,
  waitForStatus,
  waitForStep,
  writeSceneShards,
} from "./app";

const STEPS = 2;
/** Where the test serves the shards over http (any other name there answers 404). */
const PLACE = "__e2e_data__";

const shared = sharedPage("e2e-data-");
let page: Page;
let dir = "";
test.beforeEach(() => {
  page = shared.page();
  dir = shared.dir();
});

/** A copy of a tar shard whose image entries keep their PNG header (33 bytes) and lose the rest. */
function corruptImages(tar: Uint8Array): Uint8Array {
  const out = tar.slice();
  const text = new TextDecoder();
  for (let at = 0; at + 512 <= out.length; ) {
    const name = text.decode(out.subarray(at, at + 100)).replace(/\0.*$/s, "");
    if (!name) break;
    const size = Number.parseInt(
      text
        .decode(out.subarray(at + 124, at + 136))
        .replace(/\0.*$/s, "")
        .trim(),
      8,
    );
    if (name.endsWith(".png")) out.fill(0x42, at + 512 + 33, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

test("tips-test trains on picked shard files; corrupt images are skipped and counted", async ({
  baseURL,
}) => {
  const good = writeSceneShards(dir);
  const bad = join(dir, "scenes-train-000002.tar");
  await writeFile(bad, corruptImages(new Uint8Array(await readFile(good[0]))));
  const files = [...good, bad];

  await page.route(`${baseURL}/${PLACE}/**`, async (route) => {
    const name = basename(new URL(route.request().url()).pathname);
    if (files.some((f) => basename(f) === name))
      await route.fulfill({ body: await readFile(join(dir, name)), contentType: "application/x-tar" });
    else await route.fulfill({ status: 404, body: "no such shard" });
  });
  await openTrainPage(page, baseURL!);
  await page.selectOption("#set-preset", "tips-test");
  await page.fill("#set-batch", "4");
  await page.fill("#set-steps", String(STEPS));
  await page.fill("#set-name", "shards run");

  // Shard files chosen but none picked: a clear error, and nothing starts.
  await page.check('input[name="data"][value="files"]');
  await page.click("#train-start");
  await expect(page.locator("#run-error")).toBeVisible();
  await expect(page.locator("#run-error-message")).toContainText("Pick one or more .tar shard files");
  await expect(page.locator("#run-status")).toHaveAttribute("data-status", "idle");

  await page.setInputFiles("#set-data-files", files);
  await expect(page.locator("#data-files-list")).toHaveAttribute("data-count", "3");
  await page.click("#train-start");
  await expect(page.locator("#run-status")).toHaveAttribute("data-status", /running|done/);
  await waitForStep(page, 1);
  await expect(page.locator("#metric-total")).toHaveText(/^\d/);
  await expect(page.locator("#metric-web")).toHaveText(/^\d/);
  await waitForStatus(page, "done");
  expect(await stepOf(page)).toBe(STEPS);
  // A third of the shards' images are corrupt: some of them came by, counted by reason.
  const skipped = page.locator("#count-skipped");
  expect(Number(await skipped.getAttribute("data-count"))).toBeGreaterThan(0);
  await expect(skipped).toContainText("bad image");
  const row = checkpointRow(page, "shards run");
  await openTab(page, "checkpoints");
  await expect(row).toHaveAttribute("data-step", String(STEPS));
  await openTab(page, "train");

  // The same shards from URLs (relative to the page, a brace pattern), and one that is missing:
  // it is skipped and counted, and training goes on with the others.
  await page.check('input[name="data"][value="urls"]');
  await page.fill("#set-data-urls", `${PLACE}/scenes-train-{000000..000001}.tar\n${PLACE}/gone.tar`);
  await page.fill("#set-steps", "1");
  await page.fill("#set-name", "url run");
  await page.click("#train-start");
  await waitForStatus(page, "done");
  await expect(page.locator("#metric-total")).toHaveText(/^\d/);
  await expect(page.locator("#count-skipped")).toContainText("shard failed: 1");

  // The built-in openmoji: the page draws the SVGs for the data worker.
  await page.check('input[name="data"][value="openmoji"]');
  await expect(page.locator("#data-note")).toContainText("OpenMoji");
  await page.fill("#set-name", "openmoji run");
  await page.click("#train-start");
  await waitForStatus(page, "done");
  await expect(page.locator("#metric-total")).toHaveText(/^\d/);
  await expect(page.locator("#count-skipped")).toHaveAttribute("data-count", "0");

  // After a reload the files are gone: resuming (from the Checkpoints page, which continues the
  // run on the Train page) says to pick them again, then works.
  await page.reload();
  await expect(page.locator("#train-start")).toBeEnabled({ timeout: 60_000 });
  await openTab(page, "checkpoints");
  await expect(row).toHaveAttribute("data-step", String(STEPS), { timeout: 60_000 });
  await row.locator('button[data-action="resume"]').click();
  await expect(page.locator("#run-error-message")).toContainText("pick the same files again");
  await expect(page.locator("#run-error-message")).toContainText("scenes-train-000002.tar");
  await page.check('input[name="data"][value="files"]');
  await page.setInputFiles("#set-data-files", files);
  await openTab(page, "checkpoints");
  await row.locator('button[data-action="resume"]').click();
  await expect(page.locator("#run-step")).toHaveAttribute("data-resumed-from", String(STEPS));
  await expect(page.locator("#run-status")).toHaveAttribute("data-status", "done");
  await expect(page.locator('input[name="data"][value="files"]')).toBeChecked();
});
