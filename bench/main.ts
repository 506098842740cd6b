// `npm run bench -- [matmul|attention|step|data ...] [--small] [--json FILE] [--reference FILE]`
// Times our kernels on this machine's GPU and prints one table per group; `data` (asked for by
// name; it needs no GPU) times the data pipeline on the CPU instead. With --reference (the
// JSON that bench/reference/bench.py writes on the same GPU) each row shows PyTorch's figure and
// the ratio. --small runs tiny shapes (for SwiftShader and the test suite); its figures mean
// nothing. Shapes come from bench/shapes.json, which the PyTorch script reads too.
import { readFileSync, writeFileSync } from "node:fs";
import { dawnGpu, FAST_DAWN_FLAGS } from "../src/gpu/dawn";
import { Gpu } from "../src/gpu/gpu";
import { type AttentionShape, benchAttention } from "./attention";
import { benchData, type DataRow, formatDataTable } from "./data";
import { benchMatmul, type MatmulShape } from "./matmul";
import shapes from "./shapes.json";
import { benchStep, type StepShape, stepConfig } from "./step";
import { formatTables, type Reference, type Row } from "./table";

/** Run when no group is named. */
const GPU_GROUPS = ["matmul", "attention", "step"] as const;
const GROUPS = [...GPU_GROUPS, "data"] as const;
type Group = (typeof GROUPS)[number];

function parse(argv: string[]) {
  const groups: Group[] = [];
  let small = false;
  let json: string | null = null;
  let reference: string | null = null;
  let stepConfigs: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--small") small = true;
    else if (a === "--json") json = argv[++i] ?? null;
    else if (a === "--reference") reference = argv[++i] ?? null;
    else if (a === "--write-step-configs") stepConfigs = argv[++i] ?? null;
    else if ((GROUPS as readonly string[]).includes(a)) groups.push(a as Group);
    else
      throw new Error(
        `bench: unknown argument "${a}"; groups: ${GROUPS.join(", ")}; options: --small --json FILE --reference FILE --write-step-configs FILE`,
      );
  }
  return { groups: groups.length ? groups : [...GPU_GROUPS], small, json, reference, stepConfigs };
}

const o = parse(process.argv.slice(2));
const size = o.small ? "small" : "full";
if (o.stepConfigs) {
  // The training-step rows' resolved model configurations, for the PyTorch reference; no GPU needed.
  writeFileSync(o.stepConfigs, JSON.stringify((shapes.step[size] as StepShape[]).map(stepConfig), null, 2));
  console.log(`wrote ${o.stepConfigs}`);
  process.exit(0);
}
const reference: Reference | null = o.reference ? JSON.parse(readFileSync(o.reference, "utf8")) : null;
const note = o.small ? ", small shapes: figures mean nothing" : "";
const rows: Row[] = [];
let device: Gpu["info"] | null = null;
if (o.groups.some((g) => g !== "data")) {
  const gpu = await Gpu.create({ gpu: await dawnGpu(FAST_DAWN_FLAGS) });
  device = gpu.info;
  console.log(
    `# benchmarks ${new Date().toISOString().slice(0, 10)} on ${gpu.info.description || gpu.info.vendor} (${gpu.info.features.join(", ") || "no optional features"})${note}`,
  );
  for (const g of o.groups) {
    if (g === "matmul") rows.push(...(await benchMatmul(gpu, shapes.matmul[size] as MatmulShape[], o.small)));
    if (g === "attention")
      rows.push(...(await benchAttention(gpu, shapes.attention[size] as AttentionShape[], o.small)));
    if (g === "step") rows.push(...(await benchStep(gpu, shapes.step[size] as StepShape[], o.small)));
  }
  console.log(formatTables(rows, reference));
}
let data: DataRow[] = [];
if (o.groups.includes("data")) {
  console.log(
    `# data benchmark ${new Date().toISOString().slice(0, 10)}${o.small ? ", small: figures mean nothing" : ""}`,
  );
  data = await benchData(o.small);
  console.log(formatDataTable(data));
}
if (o.json) writeFileSync(o.json, JSON.stringify({ device, rows, data }, null, 2));
