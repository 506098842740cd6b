#!/usr/bin/env node
// Launcher of the `tips` CLI: bundles src/cli/main.ts (kernels inlined) into
// node_modules/.cache/tips/cli.mjs when a source is newer than the bundle, then runs it.
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bundle = join(root, "node_modules", ".cache", "tips", "cli.mjs");

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
  built = statSync(bundle).mtimeMs;
} catch {}
if (built < Math.max(newest(join(root, "src")), newest(join(root, "kernels")))) {
  const { buildNode } = await import(pathToFileURL(join(root, "scripts", "build-node.mjs")).href);
  mkdirSync(dirname(bundle), { recursive: true });
  await buildNode(join(root, "src", "cli", "main.ts"), bundle);
}
await import(pathToFileURL(bundle).href);
