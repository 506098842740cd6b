// Runs test/torch/engine.ts (the engine's side of the PyTorch parity tests) on SwiftShader:
// bundled as bin/tips.mjs bundles the CLI, into node_modules/.cache/tips/torch-engine.mjs.
// Usage: node scripts/torch-engine.mjs fixtures SHARDS DIR
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
if (!process.env.VK_ICD_FILENAMES) {
  // Vulkan reads these only at process start: restart with SwiftShader named.
  const chromium = (await import("@sparticuz/chromium")).default;
  const dir = dirname(await chromium.executablePath());
  const env = {
    ...process.env,
    LD_LIBRARY_PATH: [dir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":"),
    VK_ICD_FILENAMES: join(dir, "vk_swiftshader_icd.json"),
  };
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
    env,
  });
  process.exit(r.status ?? 1);
}
const bundle = join(root, "node_modules", ".cache", "tips", "torch-engine.mjs");
mkdirSync(dirname(bundle), { recursive: true });
const { buildNode } = await import(pathToFileURL(join(root, "scripts", "build-node.mjs")).href);
await buildNode(join(root, "test", "torch", "engine.ts"), bundle);
await import(pathToFileURL(bundle).href);
