// `tips train`: trains a TIPS model in Node on Dawn with a progress bar, saves checkpoints
// atomically every --save-every steps, at the end and on Ctrl-C, and resumes from one exactly.
// The loop is the run's Session (src/train/session.ts), the same as the Train page's.
import { appendFile } from "node:fs/promises";
import cliProgress from "cli-progress";
import { BatchPrefetcher, unpackBatch } from "../data/batches";
import type { SourcePosition } from "../data/examples";
import { Vocabulary } from "../data/text/vocab";
import { DeviceLostError } from "../gpu/errors";
import { PRESETS, preset } from "../tips/config";
import {
  type CaptionKind,
  type Centring,
  DEFAULT_RILS,
  DEFAULT_SPARC,
  type LossWeights,
  type RilsOptions,
  type SparcOptions,
} from "../tips/loss";
import type { TeacherKind } from "../tips/model";
import { readCheckpoint, restoreTrainer, saveCheckpoint, startFromCheckpoint } from "../train/checkpoint";
import { Session, type StepProgress } from "../train/session";
import { type StepMetrics, TERMS, Trainer, trainerOptions } from "../train/trainer";
import { CliError, intOption, numberOption, type Parsed, parseCommand, stringOption } from "./args";
import { buildVocabulary, checkData, DATA_WORKERS_HELP, DEFAULT_DATA_WORKERS, openSource } from "./data";
import { readInput, writeFileAtomic } from "./files";
import { describeGpu, nodeGpu } from "./gpu";

const HELP = `usage: tips train [options]

Trains a TIPS model (image encoder with two CLS tokens, text encoder, DINO and iBOT heads) with
the combined CLIP (web + synthetic captions), self-distillation and masked-image-modelling loss.

  --preset NAME        model size: ${Object.keys(PRESETS).join(", ")} (default tips-micro)
  --data SPEC          "scenes" (built in, default), "openmoji" (built in) or WebDataset shards: a brace pattern
                       (shards-{000000..000009}.tar), a folder of .tar files, URLs
  --steps N            optimiser steps (default 2000)
  --batch N            examples per step (default 64)
  --accumulate N       micro-batches per step, for batches bigger than memory (default 1)
  --lr X               peak learning rate after warm-up (default 1e-3)
  --seed N             seed of the initialisation, crops and masks (default 0)
  --loss W             term weights, 0 switches a term off (default web=1,syn=1,dino=1,mim=1);
                       also sparc=W (SPARC fine-grained token-patch contrast) and rils=W
                       (RILS: masked patches predict patch-to-sentence distributions), off by default
  --sparc OPTS         SPARC options: caption=syn|web (default syn), temperature=X (default ${DEFAULT_SPARC.temperature})
  --rils OPTS          RILS options: caption=syn|web (default syn), student=X (default ${DEFAULT_RILS.tauStudent}),
                       teacher=X (default ${DEFAULT_RILS.tauTeacher}) temperatures
  --teacher KIND       full: EMA copy of the image encoder and heads (default);
                       heads: TIPSv2's head-only EMA teacher (the student encoder without gradients)
  --mim-all            iBOT++ (TIPSv2): MIM loss over all patches, not only masked ones
  --centring KIND      teacher targets for DINO and iBOT: sinkhorn (Sinkhorn-Knopp, as DINOv2;
                       default) or centre (softmax after a running centre, as DINO and iBOT)
  --out FILE           checkpoint file (default checkpoints/<preset>.safetensors)
  --save-every N       also save every N steps (default 500)
  --resume FILE        continue a run from its checkpoint (the run's options come from the file)
  --from FILE          start a new run from a checkpoint's model (student, teacher, heads, vocabulary;
                       its preset, teacher kind and targets unless given) with this run's options and a
                       fresh optimiser, e.g. to add --loss sparc=1,rils=1 to a trained model
  --log FILE           append each step's metrics as a JSON line
${DATA_WORKERS_HELP}
  --swiftshader        run on the CPU (SwiftShader) when there is no GPU: slow, for tips-test

Ctrl-C saves a checkpoint before exiting; a second Ctrl-C exits at once.`;

const OPTIONS = {
  preset: { type: "string" },
  data: { type: "string" },
  steps: { type: "string" },
  batch: { type: "string" },
  accumulate: { type: "string" },
  lr: { type: "string" },
  seed: { type: "string" },
  loss: { type: "string" },
  sparc: { type: "string" },
  rils: { type: "string" },
  teacher: { type: "string" },
  "mim-all": { type: "boolean" },
  centring: { type: "string" },
  out: { type: "string" },
  "save-every": { type: "string" },
  resume: { type: "string" },
  from: { type: "string" },
  "data-workers": { type: "string" },
  log: { type: "string" },
} as const;

/** Options that define a run: a resumed run takes them from its checkpoint. */
const RUN_OPTIONS = [
  "preset",
  "steps",
  "batch",
  "accumulate",
  "lr",
  "seed",
  "loss",
  "sparc",
  "rils",
  "teacher",
  "mim-all",
  "centring",
  "from",
];

export function parseLossWeights(spec: string): LossWeights {
  const weights: LossWeights = { web: 0, syn: 0, dino: 0, mim: 0, sparc: 0, rils: 0 };
  for (const item of spec.split(",")) {
    const [name, value] = item.split("=").map((s) => s.trim());
    const w = Number(value);
    if (!(name in weights) || value === undefined || !Number.isFinite(w) || w < 0) {
      throw new CliError(
        `--loss takes name=weight items from ${TERMS.join(", ")} (weights >= 0), got "${item}"`,
      );
    }
    weights[name as keyof LossWeights] = w;
  }
  if (Object.values(weights).every((w) => w === 0)) throw new CliError("--loss switches every term off");
  return weights;
}

/** "key=value,..." with the keys allowed; unknown keys and missing values are errors. */
function parseItems(option: string, spec: string, keys: readonly string[]): Map<string, string> {
  const items = new Map<string, string>();
  for (const item of spec.split(",")) {
    const [key, value] = item.split("=").map((s) => s.trim());
    if (!keys.includes(key) || !value)
      throw new CliError(`--${option} takes key=value items from ${keys.join(", ")}, got "${item}"`);
    items.set(key, value);
  }
  return items;
}

function parseCaption(option: string, value: string | undefined, fallback: CaptionKind): CaptionKind {
  if (value === undefined) return fallback;
  if (value !== "syn" && value !== "web")
    throw new CliError(`--${option} caption takes syn or web, got "${value}"`);
  return value;
}

function parseTemperature(option: string, key: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const t = Number(value);
  if (!(Number.isFinite(t) && t > 0))
    throw new CliError(`--${option} ${key} takes a positive number, got "${value}"`);
  return t;
}

export function parseSparcOptions(spec: string | undefined): SparcOptions {
  const items = spec ? parseItems("sparc", spec, ["caption", "temperature"]) : new Map<string, string>();
  return {
    caption: parseCaption("sparc", items.get("caption"), DEFAULT_SPARC.caption),
    temperature: parseTemperature(
      "sparc",
      "temperature",
      items.get("temperature"),
      DEFAULT_SPARC.temperature,
    ),
  };
}

export function parseRilsOptions(spec: string | undefined): RilsOptions {
  const items = spec
    ? parseItems("rils", spec, ["caption", "student", "teacher"])
    : new Map<string, string>();
  return {
    caption: parseCaption("rils", items.get("caption"), DEFAULT_RILS.caption),
    tauStudent: parseTemperature("rils", "student", items.get("student"), DEFAULT_RILS.tauStudent),
    tauTeacher: parseTemperature("rils", "teacher", items.get("teacher"), DEFAULT_RILS.tauTeacher),
  };
}

function fmt(v: number | null): string {
  return v === null ? "off" : v.toFixed(3);
}

/** The options of a new run (not a resumed one), checked. */
function newRunSettings(p: Parsed) {
  const teacher = stringOption(p, "teacher");
  if (teacher !== undefined && teacher !== "full" && teacher !== "heads")
    throw new CliError(`--teacher takes full or heads, got "${teacher}"`);
  const centring = stringOption(p, "centring");
  if (centring !== undefined && centring !== "sinkhorn" && centring !== "centre")
    throw new CliError(`--centring takes sinkhorn or centre, got "${centring}"`);
  const presetName = stringOption(p, "preset");
  if (presetName !== undefined && p.values.from !== undefined)
    throw new CliError("--preset cannot be given with --from: the model comes from the checkpoint");
  if (presetName !== undefined && !PRESETS[presetName])
    throw new CliError(`unknown preset "${presetName}"; choose one of: ${Object.keys(PRESETS).join(", ")}`);
  return {
    teacher: teacher as TeacherKind | undefined,
    centring: centring as Centring | undefined,
    run: runOptions(p),
  };
}

/** Steps, batch, learning rate, seed and loss terms of a new run. */
function runOptions(p: Parsed) {
  return {
    steps: intOption(p, "steps", 2000),
    batch: intOption(p, "batch", 64),
    accumulate: intOption(p, "accumulate", 1),
    lr: numberOption(p, "lr", 1e-3, 0),
    seed: intOption(p, "seed", 0, 0),
    weights: parseLossWeights(stringOption(p, "loss") ?? "web=1,syn=1,dino=1,mim=1"),
    sparc: parseSparcOptions(stringOption(p, "sparc")),
    rils: parseRilsOptions(stringOption(p, "rils")),
  };
}

export async function train(argv: string[]): Promise<void> {
  const p = parseCommand(argv, OPTIONS, HELP);
  if (!p) return;
  const resume = stringOption(p, "resume");
  const from = stringOption(p, "from");
  // Options and the checkpoint are checked before the GPU is started: a mistake is the first thing said.
  if (resume) {
    const given = RUN_OPTIONS.filter((name) => p.values[name] !== undefined);
    if (given.length)
      throw new CliError(`--${given[0]} cannot change a resumed run: its options come from ${resume}`);
  }
  const settings = resume ? null : newRunSettings(p);
  const saveEvery = intOption(p, "save-every", 500);
  const workers = intOption(p, "data-workers", DEFAULT_DATA_WORKERS, 0, 64);
  const checkpoint = resume
    ? readCheckpoint(await readInput(resume, "--resume"))
    : from
      ? readCheckpoint(await readInput(from, "--from"))
      : null;
  if (resume && checkpoint!.info.state.step >= checkpoint!.info.options.steps) {
    // Nothing to train: the checkpoint stays as it is (not even re-saved), and no GPU or data is needed.
    const { state, options } = checkpoint!.info;
    console.log(
      `${resume} already finished at step ${state.step} of ${options.steps}: nothing to do ` +
        `(to train its model further, start a new run from it with --from ${resume} --steps N)`,
    );
    return;
  }
  // A resumed run reads the data it was trained on unless --data says otherwise.
  const noted = resume ? (checkpoint!.info.notes.data as string | undefined) : undefined;
  const data = stringOption(p, "data") ?? noted ?? "scenes";
  await checkData(data);
  const gpu = await nodeGpu();
  let trainer: Trainer;
  let vocab: Vocabulary;
  let position: SourcePosition | undefined;
  let startedFrom = "";
  if (!settings) {
    const restored = restoreTrainer(gpu, checkpoint!, (json): Vocabulary => Vocabulary.fromJSON(json));
    trainer = restored.trainer;
    vocab = restored.tokenizer;
    position = restored.source ?? undefined;
  } else {
    const { teacher, centring, run } = settings;
    try {
      if (checkpoint) {
        // The checkpoint's teacher kind, targets and views unless given.
        const started = startFromCheckpoint(
          gpu,
          checkpoint,
          (json): Vocabulary => Vocabulary.fromJSON(json),
          {
            ...run,
            ...(teacher ? { teacher } : {}),
            ...(centring ? { centring } : {}),
          },
        );
        trainer = started.trainer;
        vocab = started.tokenizer;
        startedFrom = `${from} (step ${started.info.state.step} of its run)`;
        if (p.values["mim-all"] === true) trainer.options.views.mimAllPatches = true;
      } else {
        const config = preset(stringOption(p, "preset") ?? "tips-micro");
        vocab = await buildVocabulary(data, config.text.vocabSize);
        const options = trainerOptions(config, {
          ...run,
          teacher: teacher ?? "full",
          centring: centring ?? "sinkhorn",
        });
        options.views.mimAllPatches = p.values["mim-all"] === true;
        trainer = new Trainer(gpu, options, vocab);
      }
    } catch (err) {
      throw err instanceof CliError ? err : new CliError((err as Error).message);
    }
  }
  const o = trainer.options;
  const out = stringOption(p, "out") ?? resume ?? `checkpoints/${o.config.name}.safetensors`;
  const log = stringOption(p, "log");
  const source = await openSource(data, o.config, o.seed, { position, workers });
  // Batches are drawn ahead (by the scenes workers, or sharp's threads for images) while this
  // thread records the steps; each batch carries the data position after it for the checkpoint.
  const prefetcher = new BatchPrefetcher(source, o.batch, 2);
  let consumed = source.position();
  let dataSkipped = source.skipped; // as of the last batch trained on
  const batches = {
    async next() {
      const batch = await prefetcher.next();
      if (!batch) return null;
      consumed = batch.position;
      dataSkipped = batch.skipped;
      return unpackBatch(batch);
    },
    get skipped() {
      return dataSkipped;
    },
  };

  console.log(`GPU: ${describeGpu(gpu)}`);
  console.log(
    `${o.config.name}: ${(trainer.model.params.count / 1e6).toFixed(2)}M parameters, data ${data}, ` +
      `batch ${o.batch}, steps ${trainer.step}..${o.steps}, checkpoint ${out}`,
  );
  if (startedFrom) console.log(`starting from the model of ${startedFrom}`);

  // The run's latest checkpoint: the resumed file until this run saves to `out`.
  let saved = resume ? { file: resume, step: trainer.step } : null;
  let last: StepMetrics | null = null;
  const save = async () => {
    const bytes = await saveCheckpoint(trainer, consumed, vocab, { data, loss: last?.loss ?? null });
    await writeFileAtomic(out, bytes);
    saved = { file: out, step: trainer.step };
  };

  const tty = process.stdout.isTTY === true;
  const bar = new cliProgress.SingleBar(
    {
      format: "step {value}/{total} |{bar}| loss {loss} ({terms}) | {ips} img/s | ETA {eta_formatted}",
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  // The four TIPS terms always (off when weighted 0), SPARC and RILS when switched on.
  const shown = TERMS.filter((t) => o.weights[t] > 0 || (t !== "sparc" && t !== "rils"));
  const blank = { loss: "-", terms: shown.map((t) => `${t} -`).join(" "), ips: "-" };
  if (tty) bar.start(o.steps, trainer.step, blank);

  let skipped = 0;
  const report = async ({ metrics: m, imagesPerSecond }: StepProgress) => {
    last = m;
    if (m.skipped) skipped++;
    if (log) await appendFile(log, `${JSON.stringify({ ...m, imagesPerSecond })}\n`);
    const values = {
      loss: fmt(m.loss.total),
      terms: shown.map((t) => `${t} ${fmt(m.loss[t])}`).join(" "),
      ips: imagesPerSecond === null ? "-" : imagesPerSecond.toFixed(1),
    };
    if (tty) bar.update(m.step + 1, values);
    else if (m.step % 10 === 0 || m.step + 1 === o.steps)
      console.log(
        `step ${m.step + 1}/${o.steps} loss ${values.loss} ${values.terms} ` +
          `lr ${m.lr.toExponential(2)} grad ${m.gradNorm.toFixed(2)} ${values.ips} img/s`,
      );
    if (m.skipped) console.warn(`step ${m.step + 1}: gradients were not finite; the update was skipped`);
  };

  let failure: unknown = null;
  const session = new Session(trainer, batches, {
    saveEvery,
    progress: report,
    autosave: save,
    failed: (err) => {
      failure = err;
    },
  });
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    session.stop();
  };
  process.on("SIGINT", onSigint);
  try {
    await session.start();
    if (failure && !(failure instanceof DeviceLostError)) throw failure;
    // Stopped by Ctrl-C: the checkpoint of where it stood (a finished run saved itself).
    if (session.status === "stopped") await save();
  } finally {
    if (tty) bar.stop();
    process.off("SIGINT", onSigint);
  }
  await source.close();
  if (failure instanceof DeviceLostError) {
    const next = saved
      ? `continue from its checkpoint (step ${saved.step}) with: tips train --resume ${saved.file}`
      : "no checkpoint was saved yet: start the run again";
    console.error(`tips train: the GPU device was lost at step ${trainer.step} (${failure.reason}); ${next}`);
    process.exitCode = 1;
    return;
  }
  const skips = Object.entries(dataSkipped).filter(([, n]) => n > 0);
  if (skips.length) console.log(`skipped samples: ${skips.map(([r, n]) => `${r} ${n}`).join(", ")}`);
  if (skipped) console.log(`steps skipped for non-finite gradients: ${skipped}`);
  const stopped = session.status === "stopped";
  console.log(`${stopped ? "interrupted; " : ""}saved step ${trainer.step} to ${out}`);
  trainer.dispose();
  if (stopped) process.exitCode = 130;
}
