// `tips eval`: what a frozen encoder's features are worth on the built-in scenes dataset:
// linear probes (segmentation mIoU, depth RMSE), kNN and zero-shot classification, retrieval
// Recall@1 with web (CLS#1) and synthetic (CLS#2) captions. Prints a table; --json writes it all.
import { evaluate } from "../eval/evaluate";
import { formatEvalTable } from "../eval/report";
import { TipsEncoder } from "../tips/encoder";
import { CliError, intOption, numberOption, parseCommand, stringOption } from "./args";
import { writeFileAtomic } from "./files";
import { describeGpu, nodeGpu } from "./gpu";
import { imageSizeOption, readWeightFiles, WEIGHT_HELP, WEIGHT_OPTIONS, weightFiles } from "./weights";

const HELP = `usage: tips eval [options]

Evaluates a frozen TIPS encoder on the built-in scenes dataset (docs/evaluation.md): linear probes
fitted on train-split images and tested on held-out ones (segmentation mIoU, depth RMSE), kNN and
zero-shot classification of each image's main object, retrieval Recall@1 both ways.

${WEIGHT_HELP}
  --train N            train-split images for the probes and kNN (default 64)
  --test M             held-out images to measure on (default 32)
  --size S             image side in pixels, a multiple of the patch size (default: the model's)
  --seed N             seed of the probes' initialisation and minibatches (default 0)
  --data-seed N        seed of the scenes generator (default 0)
  --k N                kNN neighbours (default 20)
  --vote weighted|majority   kNN vote: DINO's exp(cos/0.07) weights (default) or one vote each
  --probe-steps N      AdamW steps per linear probe (default 300)
  --probe-lr X         peak learning rate of the probes (default 0.02)
  --probe-batch N      patches per probe step; all of them when fewer (default 4096)
  --batch N            images per encoder batch (default 16)
  --json FILE          also write every number (per-class IoU included) as JSON
  --swiftshader        run on the CPU (SwiftShader) when there is no GPU`;

const OPTIONS = {
  ...WEIGHT_OPTIONS,
  train: { type: "string" },
  test: { type: "string" },
  size: { type: "string" },
  seed: { type: "string" },
  "data-seed": { type: "string" },
  k: { type: "string" },
  vote: { type: "string" },
  "probe-steps": { type: "string" },
  "probe-lr": { type: "string" },
  "probe-batch": { type: "string" },
  batch: { type: "string" },
  json: { type: "string" },
} as const;

export async function evalCommand(argv: string[]): Promise<void> {
  const p = parseCommand(argv, OPTIONS, HELP);
  if (!p) return;
  if (p.positionals.length) throw new CliError(`unexpected argument "${p.positionals[0]}"`, true);
  const files = weightFiles(p);
  const vote = stringOption(p, "vote") ?? "weighted";
  if (vote !== "weighted" && vote !== "majority")
    throw new CliError(`--vote takes "weighted" or "majority", got "${vote}"`);
  const train = intOption(p, "train", 64, 2, 1_000_000);
  const test = intOption(p, "test", 32, 2, 1000);
  const seed = intOption(p, "seed", 0, 0);
  const dataSeed = intOption(p, "data-seed", 0, 0);
  const k = intOption(p, "k", 20);
  const steps = intOption(p, "probe-steps", 300);
  const lr = numberOption(p, "probe-lr", 0.02, 0);
  const probeBatch = intOption(p, "probe-batch", 4096);
  const batch = intOption(p, "batch", 16);
  const json = stringOption(p, "json");

  // The weights are read and checked before the GPU is started.
  const weights = await readWeightFiles(files);

  const size = imageSizeOption(p, weights.vision, 8);

  const gpu = await nodeGpu();
  console.log(`GPU: ${describeGpu(gpu)}`);
  const encoder = TipsEncoder.fromWeights(gpu, weights);
  try {
    const result = await evaluate(encoder, {
      train,
      test,
      size,
      seed,
      dataSeed,
      k,
      vote,
      batch,
      probe: { steps, lr, batch: probeBatch },
      onProgress: (m) => console.log(m),
    });
    console.log(`\n${formatEvalTable(result)}`);
    if (json) {
      await writeFileAtomic(json, new TextEncoder().encode(`${JSON.stringify(result, null, 2)}\n`));
      console.log(`wrote ${json}`);
    }
  } finally {
    encoder.dispose();
  }
}
