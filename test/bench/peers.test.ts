// The peers benchmark (ours, jax-js, tfjs-backend-webgpu) at tiny shapes: every library's result
// passes its float64 check, and the MLP step's check rejects a slightly wrong step. No timing is
// asserted.
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { PEER_SHAPES, type PeerRow } from "../../bench/peers";
import { checkMlpStep, mlpHost, mlpStepReference } from "../../bench/peers-reference";

it("npm run bench -- peers --small runs every workload in all three libraries, each checked against float64; --only names the rows", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tips-peers-"));
  const out = join(dir, "peers.json");
  const r = spawnSync(
    process.execPath,
    ["scripts/bench.mjs", "peers", "--small", "--repeats", "1", "--json", out],
    {
      encoding: "utf8",
    },
  );
  expect(r.status, r.stdout + r.stderr).toBe(0); // 1 when a check failed
  const rows = JSON.parse(await readFile(out, "utf8")) as PeerRow[];
  expect(rows.map((row) => row.workload)).toEqual([
    "matmul-odd",
    "matmul-odd-dw",
    "attention-small",
    "mlp-step",
    "vit-small-forward",
  ]);
  for (const row of rows) {
    for (const ms of [row.oursMs, row.jaxjsMs, row.tfjsMs]) expect(ms).toBeGreaterThan(0);
  }
  expect(r.stdout).toContain(
    "| workload          | ours ms | jax-js ms | tfjs ms | ours/jax-js | ours/tfjs |",
  );
  await rm(dir, { recursive: true });

  // The bundle scripts/bench.mjs built above: --only with an unknown name stops in one line.
  const only = spawnSync(
    process.execPath,
    ["dist/bench/bench.mjs", "peers", "--small", "--only", "mlp-step,vit"],
    { encoding: "utf8" },
  );
  expect(only.status).toBe(2);
  expect(only.stderr.trim()).toBe(
    "bench: --only: no peers workload named vit with --small; known: matmul-odd, matmul-odd-dw, attention-small, mlp-step, vit-small-forward",
  );
});

it("the MLP step's check rejects a step 1% too long and a wrong loss", () => {
  const shape = PEER_SHAPES.small.mlp;
  const host = mlpHost(shape);
  const want = mlpStepReference(shape, host, 0.1);
  const off = mlpStepReference(shape, host, 0.101);
  expect(checkMlpStep(host, want, want.loss, want.after)).toBeNull();
  expect(checkMlpStep(host, want, want.loss, off.after)).toMatch(/^wrong w1 after the step/);
  expect(checkMlpStep(host, want, want.loss * 1.01, want.after)).toMatch(/^wrong loss/);
});
