// The layers of docs/architecture.md, held by the import graph of src/ and app/: a file imports
// only from its own room or a room below it, and no files import each other, directly or round a
// loop. Every import counts (static, dynamic, type-only, and a worker's `new URL(...)`): reading a
// file should never need a file above it. Reads the sources only; no GPU.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";

/** The rooms, lowest first. A file's room is the longest of these its path starts with. */
const LAYERS = [
  "src/gpu",
  "src/tensor",
  "src/data",
  "src/featuremaps",
  "src/ops",
  "src/nn",
  "src/tips",
  "src/train",
  "src/eval",
  "src/cli",
  "app/common",
  "app/checkpoints",
  "app/infer",
  "app/selfcheck",
  "app/train",
  "app/main.ts",
];

const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+|\bnew URL\(\s*)["'](\.{1,2}\/[^"'?]+)/g;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = `${dir}/${name}`;
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** Each file's imports of other .ts files in src/ and app/, as repository paths. */
function importGraph(files: string[], read: (file: string) => string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = new Set<string>();
    for (const [, spec] of read(file).matchAll(IMPORT)) {
      const base = normalize(join(dirname(file), spec));
      const target = [base, `${base}.ts`].find((p) => p.endsWith(".ts") && existsSync(p));
      if (target) targets.add(target);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

function layerOf(file: string): number {
  let best = -1;
  for (let i = 0; i < LAYERS.length; i++)
    if (file.startsWith(LAYERS[i]) && (best < 0 || LAYERS[i].length > LAYERS[best].length)) best = i;
  if (best < 0) throw new Error(`${file} is in no room of LAYERS; add its room there`);
  return best;
}

function upwardImports(graph: Map<string, string[]>): string[] {
  const out: string[] = [];
  for (const [file, targets] of graph)
    for (const t of targets) if (layerOf(t) > layerOf(file)) out.push(`${file} -> ${t}`);
  return out.sort();
}

/** The sets of files that import each other (strongly connected, more than one file), sorted. */
function importLoops(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const loops: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const loop: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        loop.push(w);
      } while (w !== v);
      if (loop.length > 1) loops.push(loop.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return loops.sort((a, b) => a[0].localeCompare(b[0]));
}

describe("import graph", () => {
  const graph = importGraph([...sources("src"), ...sources("app")], (f) => readFileSync(f, "utf8"));

  it("runs down the layers only", () => {
    expect(upwardImports(graph)).toEqual([]);
  });

  it("has no files that import each other", () => {
    expect(importLoops(graph)).toEqual([]);
  });
});
