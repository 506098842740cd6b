// The whole test suite, as CI runs it: Biome (format + lint), the TypeScript compiler, the unit
// tests (Vitest, Node + Dawn on SwiftShader), the PyTorch package's tests (python/tests, against
// the engine) and the browser tests (Playwright, headless Chromium on SwiftShader). Every stage runs even when an earlier one fails; Biome and tsc count as one
// test each. The last line printed is always `N passed, N failed`.
// Usage: node scripts/test.mjs [--unit-only | --e2e-only]
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

const args = new Set(process.argv.slice(2));
const unit = !args.has("--e2e-only");
const e2e = !args.has("--unit-only");
const reports = join("test-results", "reports");
rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });

let passed = 0;
let failed = 0;
const summary = [];

// Each stage has a deadline far above its usual time (minutes), so that a hang fails that
// stage and the run still prints its last line inside CI's limit.
const STAGE_MINUTES = { biome: 5, tsc: 10, unit: 40, python: 15, browser: 25 };

function run(label, command, commandArgs, env = {}) {
  console.log(`\n== ${label}: ${command} ${commandArgs.join(" ")}`);
  const started = Date.now();
  const minutes = STAGE_MINUTES[label];
  const r = spawnSync(command, commandArgs, {
    stdio: "inherit",
    env: { ...process.env, ...env },
    timeout: minutes * 60_000,
    killSignal: "SIGKILL",
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  if (r.error?.code === "ETIMEDOUT") console.error(`${label}: stopped after ${minutes} minutes (a hang?)`);
  else if (r.error) console.error(`${label}: could not start ${command}: ${r.error.message}`);
  return { ok: r.status === 0, seconds };
}

function single(label, command, commandArgs) {
  const { ok, seconds } = run(label, command, commandArgs);
  if (ok) passed++;
  else failed++;
  summary.push(`${label}: ${ok ? "passed" : "FAILED"} (${seconds} s)`);
}

/** Counts from a JSON report; a stage that crashed before writing one counts as one failure. */
function counted(label, command, commandArgs, reportFile, env, count) {
  const { ok, seconds } = run(label, command, commandArgs, env);
  let report = null;
  try {
    report = JSON.parse(readFileSync(reportFile, "utf8"));
  } catch {
    console.error(`${label}: no report at ${reportFile}`);
  }
  const c = report ? count(report) : { passed: 0, failed: 1 };
  if (!ok && c.failed === 0) c.failed = 1; // e.g. an error outside any test
  passed += c.passed;
  failed += c.failed;
  summary.push(`${label}: ${c.passed} passed, ${c.failed} failed (${seconds} s)`);
}

// The local binaries themselves, not npx: a stage stopped at its deadline leaves no child running.
const bin = (name) => join("node_modules", ".bin", process.platform === "win32" ? `${name}.cmd` : name);
if (unit) {
  single("biome", bin("biome"), ["check", "."]);
  single("tsc", bin("tsc"), ["--noEmit"]);
  const file = join(reports, "vitest.json");
  counted(
    "unit",
    bin("vitest"),
    ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${file}`],
    file,
    {},
    (r) => ({ passed: r.numPassedTests, failed: r.numFailedTests }),
  );
  // Debian's python3-torch belongs to /usr/bin/python3 (a python3 earlier on PATH may lack it).
  const python = process.env.TIPS_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
  const pythonReport = join(reports, "python.json");
  counted("python", python, ["python/tests/run.py", pythonReport], pythonReport, {}, (r) => r);
}
if (e2e) {
  const file = join(reports, "playwright.json");
  counted(
    "browser",
    bin("playwright"),
    ["test", "--reporter=list,json"],
    file,
    { PLAYWRIGHT_JSON_OUTPUT_NAME: file },
    (r) => ({ passed: r.stats.expected + r.stats.flaky, failed: r.stats.unexpected }),
  );
}

console.log(`\n${summary.join("\n")}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
