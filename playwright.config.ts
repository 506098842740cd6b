// Browser tests of the app in the headless Chromium that @sparticuz/chromium ships, with WebGPU
// on SwiftShader (a CPU Vulkan driver), so that they need no GPU and no browser download.
import { defineConfig } from "@playwright/test";

// The two longest files (minutes each on a CPU), started first so that the shorter ones fill in
// beside them: tests are handed to workers project by project, then file by file.
const LONG = /(selfcheck|train)\.spec\.ts$/;

// Its own port and always its own server: a dev server already running (perhaps from another
// checkout) must never be tested by mistake. TIPS_TEST_PORT lets two checkouts test side by side.
const TEST_PORT = Number(process.env.TIPS_TEST_PORT ?? 5199);

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results",
  // Two test files at a time, each with its own browser: much of a test's time is SwiftShader
  // compiling pipelines on one thread, so two overlap well even on a 2-core machine (measured:
  // the suite took 7.2 min with two workers, about 10.7 min with one). Tests within a file run
  // in order on one page.
  workers: 2,
  projects: [
    { name: "long", testMatch: LONG },
    { name: "short", testIgnore: LONG },
  ],
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  // The self-check runs every op on a CPU rasteriser: minutes on a 2-core machine.
  timeout: 15 * 60_000,
  expect: { timeout: 30_000 },
  reporter: [["list"]],
  use: { baseURL: `http://127.0.0.1:${TEST_PORT}` },
  webServer: {
    command: `npx vite --port ${TEST_PORT}`,
    url: `http://127.0.0.1:${TEST_PORT}`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: "ignore",
    stderr: "pipe",
  },
});
