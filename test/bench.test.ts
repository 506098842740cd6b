// `npm run bench` end to end on tiny shapes (SwiftShader): every row is timed and printed, and a
// PyTorch reference file is merged into the table with its ratio. No timing is asserted.
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import type { Row } from "../bench/table";

it("npm run bench -- --small times every matmul, attention and training-step row and merges a reference", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tips-bench-"));
  const reference = { matmul: { "small odd 33x65x17 fwd A B": 0.5 } };
  await writeFile(join(dir, "ref.json"), JSON.stringify(reference));
  const r = spawnSync(
    process.execPath,
    ["scripts/bench.mjs", "--small", "--reference", join(dir, "ref.json"), "--json", join(dir, "out.json")],
    { encoding: "utf8" },
  );
  expect(r.status, r.stdout + r.stderr).toBe(0);
  const { rows } = JSON.parse(await readFile(join(dir, "out.json"), "utf8")) as { rows: Row[] };
  expect(rows.map((x) => x.name)).toEqual([
    "small odd 33x65x17 fwd A B",
    "small odd 33x65x17 bwd dC B^T",
    "small odd 33x65x17 bwd A^T dC",
    "small 64x64x64 fwd A B",
    "small 64x64x64 bwd dC B^T",
    "small 64x64x64 bwd A^T dC",
    "small B=2 H=2 S=19 Dh=8 fwd",
    "small B=2 H=2 S=19 Dh=8 fwd+bwd",
    "tips-test batch 4",
  ]);
  for (const row of rows) expect(row.ms).toBeGreaterThan(0);
  const line = r.stdout.split("\n").find((l) => l.includes("small odd 33x65x17 fwd A B"))!;
  const ours = rows[0].ms;
  expect(line).toContain(`${(0.5 / ours).toFixed(2)}x`);
  expect(r.stdout).toContain("### attention");
  expect(r.stdout).toMatch(
    // Columns are padded to their widest value (a slow step on a loaded machine widens "ours ms").
    /### step\n\n\| case +\| +ours ms \| +ours images\/s \|.* +ours MiB \| +PyTorch MiB \|/,
  );
  expect(rows.at(-1)?.memoryMiB).toBeGreaterThan(0);
  // The PyTorch reference of the step rows reads the configurations written here.
  const configs = join(dir, "configs.json");
  const w = spawnSync(process.execPath, ["scripts/bench.mjs", "--small", "--write-step-configs", configs], {
    encoding: "utf8",
  });
  expect(w.status, w.stderr).toBe(0);
  const [entry] = JSON.parse(await readFile(configs, "utf8"));
  expect(entry).toMatchObject({ name: "tips-test batch 4", batch: 4, config: { name: "tips-test" } });
  const bad = spawnSync(process.execPath, ["scripts/bench.mjs", "--frobnicate"], { encoding: "utf8" });
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toContain('unknown argument "--frobnicate"');
  await rm(dir, { recursive: true, force: true });
}, 300_000);

it("npm run bench -- data --small times every data row on the CPU without a GPU", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tips-bench-data-"));
  const r = spawnSync(
    process.execPath,
    ["scripts/bench.mjs", "data", "--small", "--json", join(dir, "out.json")],
    {
      encoding: "utf8",
    },
  );
  expect(r.status, r.stdout + r.stderr).toBe(0);
  const out = JSON.parse(await readFile(join(dir, "out.json"), "utf8")) as {
    device: unknown;
    rows: Row[];
    data: { name: string; samples: number; seconds: number }[];
  };
  expect(out.device).toBeNull(); // no GPU was asked for
  expect(out.rows).toEqual([]);
  expect(out.data.map((d) => d.name.split(" (")[0])).toEqual([
    "scenes 96 px",
    "scenes 224 px",
    "openmoji 96 px",
    "shards PNG 96 px",
    "shards PNG 224 px",
    "shards JPEG 224 px",
  ]);
  for (const d of out.data) {
    expect(d.samples).toBe(64);
    expect(d.seconds).toBeGreaterThan(0);
  }
  expect(r.stdout).toContain("### data");
  expect(r.stdout).toContain("samples/s");
  await rm(dir, { recursive: true, force: true });
}, 300_000);
