// `npm run bench -- [matmul|attention|step|data ...] [--small] [--json FILE] [--reference FILE]`
// or `npm run bench -- counts [--json FILE]`, or
// `npm run bench -- peers [--small] [--repeats N] [--only NAME[,NAME]] [--json FILE]`
// Times our kernels on this machine's GPU and prints one table per group; `data` (asked for by
// name; it needs no GPU) times the data pipeline on the CPU instead. With --reference (the
// JSON that bench/reference/bench.py writes on the same GPU) each row shows PyTorch's figure and
// the ratio. --small runs tiny shapes (for SwiftShader and the test suite); its figures mean
// nothing. Shapes come from bench/shapes.json, which the PyTorch script reads too. `data
// --steps-from FILE` (our --json result from a GPU) sets the data rates beside the images/s its
// training steps consume; `data --scenes-only` keeps to the rows that need no installed package;
// `data --data-workers N` draws the pooled scenes rows with N worker threads. `counts` (alone)
// counts what a training step records on a dry Gpu (no workgroups run; any adapter) and the cost
// of one dispatch; its --json file is an array of rows (bench/counts.ts). `peers` (alone) sets our
// kernels beside jax-js and tfjs-backend-webgpu on the same adapter (bench/peers.ts); --repeats
// (default 5) is how many interleaved samples each library gets, --only runs the named rows, and
// its --json file is an array of {workload, oursMs, jaxjsMs, tfjsMs}.
import { readFileSync, writeFileSync } from "node:fs";
import { DRY_DAWN_FLAGS, dawnGpu, FAST_DAWN_FLAGS } from "../src/gpu/dawn";
import { Gpu } from "../src/gpu/gpu";
import { type AttentionShape, benchAttention } from "./attention";
import { COUNTED, countStep, countsRow, dispatchCost, formatCounts, type StepCounts } from "./counts";
import { benchData, type Consumer, consumersOf, type DataRow, formatDataTable } from "./data";
import { benchMatmul, type MatmulShape } from "./matmul";
import { benchPeers, formatPeers, PEER_SHAPES, type PeerRow, peerWorkloadNames } from "./peers";
import shapes from "./shapes.json";
import { benchStep, type StepShape, stepConfig } from "./step";
import { type Failure, formatTables, type Reference, type Row } from "./table";

/** Run when no group is named. */
const GPU_GROUPS = ["matmul", "attention", "step"] as const;
const GROUPS = [...GPU_GROUPS, "data", "counts", "peers"] as const;
type Group = (typeof GROUPS)[number];

/** Stops with a sentence on what is wrong (no stack: these are the caller's mistakes). */
function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

function readJson(file: string, option: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    fail(`cannot read ${option} ${file}: ${(err as Error).message}`);
  }
}

function parse(argv: string[]) {
  const groups: Group[] = [];
  let small = false;
  let json: string | null = null;
  let reference: string | null = null;
  let stepConfigs: string | null = null;
  let stepsFrom: string | null = null;
  let scenesOnly = false;
  let dataWorkers: number | undefined;
  let repeats = 5;
  let only: string[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--small") small = true;
    else if (a === "--json") json = argv[++i] ?? null;
    else if (a === "--reference") reference = argv[++i] ?? null;
    else if (a === "--write-step-configs") stepConfigs = argv[++i] ?? null;
    else if (a === "--steps-from") stepsFrom = argv[++i] ?? null;
    else if (a === "--scenes-only") scenesOnly = true;
    else if (a === "--data-workers") {
      dataWorkers = Number(argv[++i]);
      if (!(Number.isInteger(dataWorkers) && dataWorkers >= 1 && dataWorkers <= 64))
        fail(`--data-workers takes an integer from 1 to 64, got "${argv[i]}"`);
    } else if (a === "--repeats") {
      repeats = Number(argv[++i]);
      if (!(Number.isInteger(repeats) && repeats >= 1 && repeats <= 100))
        fail(`--repeats takes an integer from 1 to 100, got "${argv[i]}"`);
    } else if (a === "--only") {
      only = (argv[++i] ?? "").split(",").filter((name) => name);
      if (!only.length) fail("--only takes workload names separated by commas, e.g. --only vit-s14-forward");
    } else if ((GROUPS as readonly string[]).includes(a)) groups.push(a as Group);
    else
      fail(
        `unknown argument "${a}"; groups: ${GROUPS.join(", ")}; options: --small --json FILE --reference FILE --write-step-configs FILE --steps-from FILE --scenes-only --data-workers N --repeats N --only NAME[,NAME]`,
      );
  }
  return {
    groups: groups.length ? groups : [...GPU_GROUPS],
    small,
    json,
    reference,
    stepConfigs,
    stepsFrom,
    scenesOnly,
    dataWorkers,
    repeats,
    only,
  };
}

const o = parse(process.argv.slice(2));
if (o.groups.includes("counts")) {
  if (o.groups.length > 1 || o.small || o.reference)
    fail("counts runs alone: npm run bench -- counts [--json FILE]");
  // Dawn's zeroing of each new buffer would commit memory that nothing reads in a dry run. The
  // kernels a GPU runs, on any adapter (a CPU adapter's record a few more dispatches: the budgets
  // of test/bench/step-budget.test.ts hold both).
  const gpu = await Gpu.create({ gpu: await dawnGpu(DRY_DAWN_FLAGS, 0), dry: true, kernelTarget: "gpu" });
  console.log(
    `# step counts ${new Date().toISOString().slice(0, 10)}, dry run (no workgroups) of a GPU's kernels on ${gpu.info.description || gpu.info.vendor}`,
  );
  const rows: StepCounts[] = [];
  for (const { config, shape } of COUNTED) {
    rows.push(await countStep(gpu, config, shape));
    console.log(`${config}: ${JSON.stringify(rows[rows.length - 1])}`);
    if (o.json) writeFileSync(o.json, JSON.stringify(rows.map(countsRow), null, 2)); // kept if a later row fails
  }
  const cost = await dispatchCost(gpu);
  console.log(formatCounts(rows, cost));
  if (o.json) writeFileSync(o.json, JSON.stringify([...rows.map(countsRow), cost], null, 2));
  gpu.destroy();
  process.exit(0);
}
const size = o.small ? "small" : "full";
if (o.groups.includes("peers")) {
  if (o.groups.length > 1 || o.reference)
    fail(
      "peers runs alone: npm run bench -- peers [--small] [--repeats N] [--only NAME[,NAME]] [--json FILE]",
    );
  const known = peerWorkloadNames(PEER_SHAPES[size]);
  const unknown = o.only?.filter((name) => !known.includes(name)) ?? [];
  if (unknown.length)
    fail(
      `--only: no peers workload named ${unknown.join(", ")}${o.small ? " with --small" : ""}; known: ${known.join(", ")}`,
    );
  const dawn = await dawnGpu(FAST_DAWN_FLAGS, 0);
  const gpu = await Gpu.create({ gpu: dawn });
  console.log(
    `# peers ${new Date().toISOString().slice(0, 10)} on ${gpu.info.description || gpu.info.vendor}, ${o.repeats} interleaved samples each${o.small ? ", small shapes: figures mean nothing" : ""}`,
  );
  const done: PeerRow[] = [];
  const result = await benchPeers(
    gpu,
    dawn,
    PEER_SHAPES[size],
    o.repeats,
    (row) => {
      done.push(row);
      console.log(JSON.stringify(row));
      if (o.json) writeFileSync(o.json, JSON.stringify(done, null, 2)); // kept if a later row fails
    },
    o.only,
  );
  console.log(formatPeers(result));
  if (o.json) writeFileSync(o.json, JSON.stringify(result.rows, null, 2));
  if (result.failures.length) process.exitCode = 1;
  gpu.destroy();
  process.exit();
}
if (o.stepConfigs) {
  // The training-step rows' resolved model configurations, for the PyTorch reference; no GPU needed.
  writeFileSync(o.stepConfigs, JSON.stringify((shapes.step[size] as StepShape[]).map(stepConfig), null, 2));
  console.log(`wrote ${o.stepConfigs}`);
  process.exit(0);
}
const reference = o.reference ? (readJson(o.reference, "--reference") as Reference) : null;
let consumers: Consumer[] = [];
if (o.stepsFrom) {
  try {
    consumers = consumersOf(readJson(o.stepsFrom, "--steps-from") as Parameters<typeof consumersOf>[0]);
  } catch (err) {
    fail(`--steps-from ${o.stepsFrom}: ${(err as Error).message}`);
  }
}
const note = o.small ? ", small shapes: figures mean nothing" : "";
const rows: Row[] = [];
const failures: Failure[] = [];
let device: Gpu["info"] | null = null;
let data: DataRow[] = [];
// Written after each group, so that a run cut short (a time limit, a lost device) keeps what it measured.
const save = () => {
  if (o.json) writeFileSync(o.json, JSON.stringify({ device, rows, failures, data }, null, 2));
};
if (o.groups.some((g) => g !== "data")) {
  const gpu = await Gpu.create({ gpu: await dawnGpu(FAST_DAWN_FLAGS, 0) }); // 0: Dawn's own event loop, the soonest
  device = gpu.info;
  console.log(
    `# benchmarks ${new Date().toISOString().slice(0, 10)} on ${gpu.info.description || gpu.info.vendor} (${gpu.info.features.join(", ") || "no optional features"})${note}`,
  );
  for (const g of o.groups) {
    let group: Row[] = [];
    if (g === "matmul")
      group = await benchMatmul(gpu, shapes.matmul[size] as MatmulShape[], o.small, failures);
    if (g === "attention")
      group = await benchAttention(gpu, shapes.attention[size] as AttentionShape[], o.small, failures);
    if (g === "step") group = await benchStep(gpu, shapes.step[size] as StepShape[], o.small, failures);
    rows.push(...group);
    if (group.length) console.log(formatTables(group, reference));
    save();
  }
}
if (o.groups.includes("data")) {
  console.log(
    `# data benchmark ${new Date().toISOString().slice(0, 10)}${o.small ? ", small: figures mean nothing" : ""}`,
  );
  data = await benchData(o.small, o.scenesOnly, o.dataWorkers);
  console.log(formatDataTable(data, consumers));
  save();
}
if (failures.length) {
  console.error(
    `${failures.length} row(s) did not count (not run, or a wrong result): ${failures.map((f) => f.name).join("; ")}`,
  );
  process.exitCode = 1;
}
