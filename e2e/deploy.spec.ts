// The built site (`npm run build`) served from a sub-path, as a project page or a folder on a web
// server would serve it: every asset and worker loads relative to the page, and a tips-test run
// trains two steps there. Requests outside the sub-path answer 404, so an asset asked for at the
// site's root fails the test.
import { execFileSync } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import { expect, type Page, test } from "@playwright/test";
import { openTrainPage, ROOT, sharedPage, stepOf, waitForStatus } from "./app";

const SUB_PATH = "/some/project/";
const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".css": "text/css",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
  ".wasm": "application/wasm",
};

const shared = sharedPage("e2e-deploy-");
let page: Page;
let server: Server | null = null;
let site = "";
const outside: string[] = [];

test.beforeAll(async () => {
  const out = join(shared.dir(), "site");
  execFileSync(
    process.execPath,
    ["node_modules/vite/bin/vite.js", "build", "--outDir", out, "--logLevel", "error"],
    {
      cwd: ROOT,
      stdio: "inherit",
    },
  );
  const http = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    if (!path.startsWith(SUB_PATH)) {
      outside.push(path);
      res.writeHead(404).end();
      return;
    }
    let file = normalize(join(out, path.slice(SUB_PATH.length)));
    if (!file.startsWith(out)) return void res.writeHead(403).end();
    if ((await stat(file).catch(() => null))?.isDirectory()) file = join(file, "index.html");
    const body = await readFile(file).catch(() => null);
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(body);
  });
  server = http;
  await new Promise<void>((done) => http.listen(0, "127.0.0.1", done));
  site = `http://127.0.0.1:${(http.address() as AddressInfo).port}${SUB_PATH.slice(0, -1)}`;
});

test.afterAll(async () => {
  await new Promise((done) => server?.close(done));
});

test.beforeEach(() => {
  page = shared.page();
});

test("the built site trains from a sub-path", async () => {
  await openTrainPage(page, site);
  await page.selectOption("#set-preset", "tips-test");
  await page.fill("#set-batch", "4");
  await page.fill("#set-steps", "2");
  await page.fill("#set-name", "deployed run");
  await page.fill("#probe-every", "0");
  await page.click("#train-start");
  await waitForStatus(page, "done");
  expect(await stepOf(page)).toBe(2);
  await expect(page.locator("#metric-total")).toHaveText(/^\d/);
  expect(outside, "requests outside the site's sub-path").toEqual([]);
});
