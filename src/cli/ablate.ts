// `tips ablate`: the ablation table of TIPS at small scale. Trains each recipe of
// src/eval/ablation.ts with the same preset, data, budget and seeds, evaluates each frozen result
// as `tips eval` does on the CLS token(s) the row trained, and prints one table (mean ± sd over
// seeds) and a verdict on each direction Table 1 of the paper reports. Each finished (row, seed) is
// kept in --out-dir (its weights and its results), so an interrupted ablation picks up where it
// stopped.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { BatchPrefetcher, unpackBatch } from "../data/batches";
import type { Vocabulary } from "../data/text/vocab";
import {
  ABLATION_ROWS,
  type AblationRow,
  checkClaims,
  formatAblationTable,
  formatClaims,
  type RowResult,
  rowTokens,
  rowWeights,
  selectRows,
  summarize,
} from "../eval/ablation";
import { type EvalTokens, evaluate } from "../eval/evaluate";
import { tokenName } from "../eval/report";
import type { Gpu } from "../gpu/gpu";
import { PRESETS, preset, type TipsConfig } from "../tips/config";
import { TipsEncoder } from "../tips/encoder";
import { exportWeights } from "../train/checkpoint";
import { type StepMetrics, Trainer, trainerOptions } from "../train/trainer";
import type { Tokenizer } from "../train/views";
import { CliError, intOption, numberOption, parseCommand, stringOption } from "./args";
import { buildVocabulary, DATA_WORKERS_HELP, DEFAULT_DATA_WORKERS, openSource } from "./data";
import { writeFileAtomic } from "./files";
import { describeGpu, nodeGpu } from "./gpu";

const HELP = `usage: tips ablate [options]

Trains each row of the TIPS ablation (Table 1 of the paper, then TIPSv2's options, SPARC and
RILS) with the same preset, data, budget and seeds, evaluates the frozen encoders on held-out
scenes (as tips eval) on the CLS token(s) each row trained, and prints the table, mean ± sd over
seeds, then whether each direction Table 1 reports is reproduced, reversed or within noise
(|difference| <= sqrt(sd1² + sd2²)). Rows, and in brackets the CLS read by kNN, zero-shot and
the depth probe (global), and by web and synthetic caption retrieval:
${ABLATION_ROWS.map((r) => `  ${r.id.padEnd(3)} ${r.label} [${describeTokens(rowTokens(r))}]`).join("\n")}

  --preset NAME        model size (default tips-micro): ${Object.keys(PRESETS).join(", ")}
  --data SPEC          training data: "scenes" (default) or WebDataset shards, as tips train
  --steps N            optimiser steps per row (default 2000)
  --batch N            examples per step (default 64)
  --lr X               peak learning rate (default 1e-3)
  --seeds N            seeds per row (default 3): every row trains with seeds
                       first-seed .. first-seed + N - 1
  --first-seed S       the first seed (default 0)
  --rows LIST          rows to run, e.g. A,D,E (default: all)
  --out-dir DIR        where each row's weights and results go (default ablation/<preset>);
                       rows already there with the same settings are not trained again
  --train N            train-split images for the probes and kNN (default 256)
  --test M             held-out images to measure on (default 128)
  --probe-steps N      AdamW steps per linear probe (default 300)
${DATA_WORKERS_HELP}
  --swiftshader        run on the CPU (SwiftShader) when there is no GPU: tips-test only`;

const OPTIONS = {
  preset: { type: "string" },
  data: { type: "string" },
  steps: { type: "string" },
  batch: { type: "string" },
  lr: { type: "string" },
  seeds: { type: "string" },
  "first-seed": { type: "string" },
  rows: { type: "string" },
  "out-dir": { type: "string" },
  train: { type: "string" },
  test: { type: "string" },
  "probe-steps": { type: "string" },
  "data-workers": { type: "string" },
} as const;

/** Everything that must match for a kept result to count in this ablation. */
interface Settings {
  preset: string;
  data: string;
  steps: number;
  batch: number;
  lr: number;
  evalTrain: number;
  evalTest: number;
  probeSteps: number;
}

interface SavedResult extends RowResult {
  settings: Settings;
  /** The CLS each metric read. */
  tokens: EvalTokens;
  /** The GPU that trained and evaluated it. */
  gpu: string;
  /** The last step's loss terms and the training time. */
  training: { loss: StepMetrics["loss"] | null; seconds: number };
}

/** "global CLS#1, web CLS#1, synthetic CLS#2", for the help's rows. */
function describeTokens(t: EvalTokens): string {
  const global =
    t.image === t.zeroShot ? tokenName(t.image) : `${tokenName(t.image)}, zero-shot ${tokenName(t.zeroShot)}`;
  return `global ${global}, web ${tokenName(t.web)}, synthetic ${tokenName(t.synthetic)}`;
}

async function readKept(file: string, settings: Settings, tokens: EvalTokens): Promise<SavedResult | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return null;
  }
  let saved: SavedResult;
  try {
    saved = JSON.parse(text) as SavedResult;
  } catch {
    throw new CliError(`${file} is not valid JSON: delete it to run that row again`);
  }
  if (JSON.stringify(saved.settings) !== JSON.stringify(settings)) {
    throw new CliError(
      `${file} was made with other settings (${JSON.stringify(saved.settings)}): ` +
        "choose another --out-dir, or delete it to run that row again",
    );
  }
  if (JSON.stringify(saved.tokens) !== JSON.stringify(tokens)) {
    throw new CliError(
      `${file} was scored on other CLS tokens than this row trains (${JSON.stringify(saved.tokens ?? null)}): ` +
        "delete it to run that row again",
    );
  }
  return saved;
}

async function trainRow(
  gpu: Gpu,
  config: TipsConfig,
  row: AblationRow,
  seed: number,
  s: Settings,
  tokenizer: Tokenizer,
  workers: number,
): Promise<{ trainer: Trainer; last: StepMetrics | null; seconds: number }> {
  const started = performance.now();
  const options = trainerOptions(config, {
    steps: s.steps,
    batch: s.batch,
    lr: s.lr,
    seed,
    weights: rowWeights(row),
    captions: row.captions,
    teacher: row.teacher,
  });
  options.views.mimAllPatches = row.mimAll;
  const trainer = new Trainer(gpu, options, tokenizer);
  const source = await openSource(s.data, config, seed, { workers });
  const batches = new BatchPrefetcher(source, s.batch, 2); // drawn ahead while this thread records steps
  const pending: Promise<StepMetrics>[] = [];
  let last: StepMetrics | null = null;
  const report = (m: StepMetrics) => {
    last = m;
    if ((m.step + 1) % 100 === 0 || m.step + 1 === s.steps) {
      const terms = row.terms.map((t) => `${t} ${m.loss[t]?.toFixed(3)}`).join(" ");
      console.log(
        `  ${row.id} seed ${seed}: step ${m.step + 1}/${s.steps} loss ${m.loss.total.toFixed(3)} (${terms})`,
      );
    }
  };
  try {
    while (trainer.step < s.steps) {
      const batch = await batches.next();
      if (!batch) throw new Error(`the data ran out after ${trainer.step} steps`);
      pending.push(trainer.trainStep(unpackBatch(batch)));
      if (pending.length > 2) report(await pending.shift()!);
    }
    for (const m of pending.splice(0)) report(await m);
  } catch (err) {
    trainer.dispose();
    throw err;
  } finally {
    await source.close();
  }
  return { trainer, last, seconds: (performance.now() - started) / 1000 };
}

export async function ablate(argv: string[]): Promise<void> {
  const p = parseCommand(argv, OPTIONS, HELP);
  if (!p) return;
  if (p.positionals.length) throw new CliError(`unexpected argument "${p.positionals[0]}"\n\n${HELP}`);
  let config: TipsConfig;
  let rows: AblationRow[];
  try {
    config = preset(stringOption(p, "preset") ?? "tips-micro");
    rows = selectRows(stringOption(p, "rows"));
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const firstSeed = intOption(p, "first-seed", 0, 0);
  const seeds = Array.from({ length: intOption(p, "seeds", 3, 1, 100) }, (_, i) => firstSeed + i);
  const settings: Settings = {
    preset: config.name,
    data: stringOption(p, "data") ?? "scenes",
    steps: intOption(p, "steps", 2000),
    batch: intOption(p, "batch", 64, 2),
    lr: numberOption(p, "lr", 1e-3, 0),
    evalTrain: intOption(p, "train", 256, 2, 1_000_000),
    evalTest: intOption(p, "test", 128, 2, 1000),
    probeSteps: intOption(p, "probe-steps", 300),
  };
  const outDir = stringOption(p, "out-dir") ?? join("ablation", config.name);
  const workers = intOption(p, "data-workers", DEFAULT_DATA_WORKERS, 0, 64); // not a setting: same batches

  console.log(
    `ablation of ${config.name} on ${settings.data}: rows ${rows.map((r) => r.id).join(",")}, seeds ${seeds.join(",")}, ` +
      `${settings.steps} steps of batch ${settings.batch}, lr ${settings.lr}; results in ${outDir}`,
  );
  // Results already in --out-dir are checked before anything starts; the GPU starts only if a
  // row is left to train.
  const jobs: { row: AblationRow; seed: number; name: string; file: string; kept: SavedResult | null }[] = [];
  for (const row of rows) {
    for (const seed of seeds) {
      const name = `${row.id}-seed${seed}`;
      const file = join(outDir, `${name}.json`);
      jobs.push({ row, seed, name, file, kept: await readKept(file, settings, rowTokens(row)) });
    }
  }
  let started: { gpu: Gpu; vocab: Vocabulary } | null = null;
  const results: SavedResult[] = [];
  for (const { row, seed, name, file, kept } of jobs) {
    if (kept) {
      console.log(`${row.id} seed ${seed}: kept from ${file}`);
      results.push(kept);
      continue;
    }
    if (!started) {
      const gpu = await nodeGpu();
      console.log(`GPU: ${describeGpu(gpu)}`);
      started = { gpu, vocab: await buildVocabulary(settings.data, config.text.vocabSize) };
    }
    const { gpu, vocab } = started;
    console.log(`${row.id} seed ${seed}: training (${row.label})`);
    const { trainer, last, seconds } = await trainRow(gpu, config, row, seed, settings, vocab, workers);
    const weights = await exportWeights(trainer, vocab);
    trainer.dispose();
    await writeFileAtomic(join(outDir, `${name}.safetensors`), weights);
    const encoder = TipsEncoder.fromCheckpoint(gpu, weights);
    let result: Awaited<ReturnType<typeof evaluate>>;
    try {
      result = await evaluate(encoder, {
        train: settings.evalTrain,
        test: settings.evalTest,
        seed,
        probe: { steps: settings.probeSteps },
        tokens: rowTokens(row),
      });
    } finally {
      encoder.dispose();
    }
    const saved: SavedResult = {
      row: row.id,
      seed,
      settings,
      tokens: rowTokens(row),
      gpu: describeGpu(gpu),
      training: { loss: last?.loss ?? null, seconds },
      result,
    };
    await writeFileAtomic(file, new TextEncoder().encode(`${JSON.stringify(saved, null, 2)}\n`));
    console.log(`${row.id} seed ${seed}: trained in ${seconds.toFixed(0)} s, evaluated; saved ${file}`);
    results.push(saved);
  }
  const gpus = [...new Set(results.map((r) => r.gpu))].join("; ");
  const summaries = summarize(rows, results);
  const table = formatAblationTable(summaries);
  const claims = formatClaims(checkClaims(summaries));
  const command = `tips ablate ${argv.join(" ")}`.trim();
  const budget =
    `${config.name} on ${settings.data}, ${settings.steps} steps × batch ${settings.batch}, lr ${settings.lr}, ` +
    `seeds ${seeds.join(",")}; probes on ${settings.evalTrain} train / ${settings.evalTest} held-out scenes, ` +
    `${settings.probeSteps} probe steps; GPU: ${gpus}`;
  const verdicts = `Directions of Table 1 (within noise: |difference| <= sqrt(sd1² + sd2²) over seeds):\n\n${claims}`;
  console.log(`\n${budget}\n\n${table}\n\n${verdicts}`);
  const report = `# Ablation\n\n\`${command}\`\n\n${budget}\n\n${table}\n\n${verdicts}\n`;
  await writeFileAtomic(join(outDir, "table.md"), new TextEncoder().encode(report));
  console.log(`\nwrote ${join(outDir, "table.md")}`);
}
