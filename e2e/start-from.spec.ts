// SPARC and RILS train in the browser: a checkpoint of tips-test trained with every TIPS term
// (test/fixtures/trained, made by its make.sh on the same 12 scenes) is imported, a new run
// starts from its model on the Train page with CLIP, SPARC and RILS on and DINO and MIM off,
// and the curves it downloads as CSV show both new terms falling; the finished run then
// continues for one more step. RILS needs that start: a new model's sentence embeddings are
// alike, so its patch-to-sentence targets are uniform.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, type Page, test } from "@playwright/test";
import {
  checkpointRow,
  openTab,
  openTrainPage,
  ROOT,
  screenshot,
  sharedPage,
  waitForStatus,
  writeSceneShards,
} from "./app";

const FIXTURE = join(ROOT, "test/fixtures/trained/tips-test-80.safetensors");
const STEPS = 24;
/** Steps averaged at each end of the run. */
const ENDS = 6;

const shared = sharedPage("e2e-start-from-");
let page: Page;
let dir = "";
test.beforeEach(() => {
  page = shared.page();
  dir = shared.dir();
});

/** The CSV's columns by header name, as numbers (an empty cell: null). */
function columns(csv: string): Record<string, (number | null)[]> {
  const [head, ...rows] = csv.trim().split("\n");
  const names = head.split(",");
  const out: Record<string, (number | null)[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const row of rows) {
    for (const [i, v] of row.split(",").entries()) out[names[i]].push(v === "" ? null : Number(v));
  }
  return out;
}

const mean = (xs: (number | null)[]) => xs.reduce<number>((a, x) => a + (x ?? Number.NaN), 0) / xs.length;

test("SPARC and RILS fall in a run started from a trained checkpoint's model", async ({
  baseURL,
}, testInfo) => {
  const shards = writeSceneShards(dir);

  await openTrainPage(page, baseURL!);
  await openTab(page, "checkpoints");
  await page.setInputFiles("#import-file", FIXTURE);
  await expect(checkpointRow(page, "tips-test-80")).toHaveAttribute("data-step", "80");
  await openTab(page, "train");
  await page.selectOption("#set-preset", "tips-micro");
  await page.selectOption("#set-start-from", { label: "tips-test-80 — tips-test, step 80" });
  // The checkpoint's model fixes the preset.
  await expect(page.locator("#set-preset")).toHaveValue("tips-test");
  await expect(page.locator("#set-preset")).toBeDisabled();
  await expect(page.locator("#start-from-note")).toContainText(
    "optimiser, schedule and data position start afresh",
  );

  await page.check('input[name="data"][value="files"]');
  await page.setInputFiles("#set-data-files", shards);
  await page.fill("#set-batch", "6");
  await page.fill("#set-steps", String(STEPS));
  await page.fill("#set-lr", "0.003");
  await page.fill("#set-seed", "2");
  await page.fill("#set-name", "sparc rils run");
  await page.fill("#probe-every", "0");
  await page.uncheck("#set-term-dino");
  await page.uncheck("#set-term-mim");
  await page.check("#set-term-sparc");
  await page.check("#set-term-rils");
  await page.click("#train-start");
  await waitForStatus(page, "done");
  await expect(page.locator("#metric-dino")).toHaveText("off");
  await expect(page.locator("#metric-sparc")).toHaveText(/^\d/);
  await expect(page.locator("#metric-rils")).toHaveText(/^\d/);
  await screenshot(page, testInfo, "start-from");

  const download = page.waitForEvent("download");
  await page.click("#train-curves-csv");
  const file = await download;
  expect(file.suggestedFilename()).toBe("sparc-rils-run-curves.csv");
  const path = testInfo.outputPath("curves.csv");
  await file.saveAs(path);
  await testInfo.attach("curves", { path, contentType: "text/csv" });
  const c = columns(await readFile(path, "utf8"));
  expect(c.step).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
  expect(c.dino.every((v) => v === null)).toBe(true);
  for (const term of ["sparc", "rils"]) {
    const first = mean(c[term].slice(0, ENDS));
    const last = mean(c[term].slice(-ENDS));
    console.log(`${term}: first ${ENDS} steps ${first.toFixed(3)}, last ${ENDS} ${last.toFixed(3)}`);
    expect(last, `${term} falls`).toBeLessThan(first);
  }

  // The finished run goes on for one more step on the same picked shards, its schedule stretched.
  await expect(page.locator("#run-continue")).toBeVisible();
  await page.fill("#run-more", "1");
  await page.click("#run-continue-go");
  await expect(page.locator("#run-note")).toContainText(
    `continuing from step ${STEPS} to ${STEPS + 1}: the learning-rate schedule is stretched to ${STEPS + 1} steps`,
  );
  await expect(page.locator("#run-step")).toHaveAttribute("data-steps", String(STEPS + 1));
  await waitForStatus(page, "done");
  await expect(page.locator("#run-step")).toHaveAttribute("data-step", String(STEPS + 1));
  await expect(checkpointRow(page, "sparc rils run")).toHaveAttribute("data-step", String(STEPS + 1), {
    timeout: 60_000,
  });
});
