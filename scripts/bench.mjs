// Bundles bench/main.ts (kernels inlined, Dawn loaded from `webgpu` or $DAWN_NODE_PATH) into
// dist/bench/bench.mjs and runs it with the given arguments. The bundle is what travels to the
// GPU machine (bench/run-gpu.sh), where node_modules does not.
import { spawnSync } from "node:child_process";
import { buildNode } from "./build-node.mjs";

const out = "dist/bench/bench.mjs";
await buildNode("bench/main.ts", out);
const r = spawnSync(process.execPath, [out, ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(r.status ?? 1);
