#!/usr/bin/env node
// Launcher of the `tips` CLI: bundles src/cli/main.ts (kernels inlined) into
// node_modules/.cache/tips/cli.mjs (its scenes worker beside it) when a source is newer than the
// bundle, then runs it.
// --swiftshader restarts the command with Dawn pointed at SwiftShader (a CPU Vulkan driver from
// the @sparticuz/chromium package): Vulkan reads these variables only at process start.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const args = process.argv.slice(2);
if (args.includes("--swiftshader")) {
  const rest = args.filter((a) => a !== "--swiftshader");
  const env = { ...process.env };
  if (!env.VK_ICD_FILENAMES) {
    const chromium = (await import("@sparticuz/chromium")).default;
    const dir = dirname(await chromium.executablePath());
    env.LD_LIBRARY_PATH = [dir, env.LD_LIBRARY_PATH].filter(Boolean).join(":");
    env.VK_ICD_FILENAMES = join(dir, "vk_swiftshader_icd.json");
  }
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...rest], { stdio: "inherit", env });
  process.exit(r.status ?? 1);
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bundle = join(root, "node_modules", ".cache", "tips", "cli.mjs");
const worker = join(dirname(bundle), "scenes-worker.mjs");

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

let built = 0;
try {
  built = Math.min(statSync(bundle).mtimeMs, statSync(worker).mtimeMs);
} catch {}
if (built < Math.max(newest(join(root, "src")), newest(join(root, "kernels")))) {
  const { buildNode } = await import(pathToFileURL(join(root, "scripts", "build-node.mjs")).href);
  mkdirSync(dirname(bundle), { recursive: true });
  await buildNode(join(root, "src", "cli", "main.ts"), bundle);
}
await import(pathToFileURL(bundle).href);
