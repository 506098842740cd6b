// Bundles a TypeScript entry point into one ESM file for Node, with the WGSL kernels inlined
// (`*.wgsl?raw` imports become their text) and Dawn (`webgpu`) left external, so the bundle runs
// where node_modules does not travel (DAWN_NODE_PATH then names dawn.node).
// Usage: node scripts/build-node.mjs <entry.ts> <out.mjs>
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
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

export async function buildNode(entry, outfile) {
  await build({
    entryPoints: [entry],
    outfile,
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
