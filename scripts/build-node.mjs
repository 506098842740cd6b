// Bundles a TypeScript entry point into one ESM file for Node, with the WGSL kernels inlined
// (`*.wgsl?raw` imports become their text) and Dawn (`webgpu`) left external, so the bundle runs
// where node_modules does not travel (DAWN_NODE_PATH then names dawn.node). The worker threads
// that bundled code starts (scenes-worker.mjs) are bundled beside it.
// Usage: node scripts/build-node.mjs <entry.ts> <out.mjs>
import { readFile, rename } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** Resolves `x?raw` imports (as Vite does) to the file's text. */
const rawText = {
  name: "raw-text",
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({
      path: resolve(args.resolveDir, args.path.slice(0, -"?raw".length)),
      namespace: "raw-text",
    }));
    b.onLoad({ filter: /.*/, namespace: "raw-text" }, async (args) => ({
      contents: await readFile(args.path, "utf8"),
      loader: "text",
    }));
  },
};

// Worker threads that the bundled code starts from a file beside the bundle (by name).
const WORKERS = { "scenes-worker.mjs": "src/data/scenes/worker-node.ts" };

export async function buildNode(entry, outfile) {
  await buildNodeWorkers(dirname(outfile)); // first: a bundle that exists can be started at once
  await bundle(entry, outfile);
}

/** The worker threads' bundles, into `dir` (where the bundle that starts them lies). */
export async function buildNodeWorkers(dir) {
  const root = resolve(fileURLToPath(import.meta.url), "../..");
  for (const [name, source] of Object.entries(WORKERS))
    await bundle(resolve(root, source), resolve(dir, name));
}

// Written under a temporary name and renamed, so that a process starting the bundle while another
// builds it (test files run in parallel) never reads half a file.
async function bundle(entry, outfile) {
  const temporary = `${outfile}.${process.pid}.tmp`;
  await build({
    entryPoints: [entry],
    outfile: temporary,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["webgpu"],
    plugins: [rawText],
    // CommonJS dependencies bundled into ESM still call require() for Node's built-ins.
    banner: {
      js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);',
    },
    logLevel: "warning",
  });
  await rename(temporary, outfile);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [entry, outfile] = process.argv.slice(2);
  if (!entry || !outfile) {
    console.error("usage: node scripts/build-node.mjs <entry.ts> <out.mjs>");
    process.exit(2);
  }
  await buildNode(entry, outfile);
  console.log(`built ${outfile} from ${entry}`);
}
