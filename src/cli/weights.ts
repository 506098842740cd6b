// The encoder weights that `tips embed` and `tips eval` run: one of our checkpoints
// (--checkpoint) or the official release (--vision, --text-model, --tokenizer).
import type { VisionConfig } from "../tips/config";
import { type EncoderWeights, readCheckpointWeights, readOfficialWeights } from "../tips/encoder";
import { CliError, intOption, type Parsed, stringOption } from "./args";
import { readInput } from "./files";

/** The options that name the weights, for a command's option table. */
export const WEIGHT_OPTIONS = {
  checkpoint: { type: "string" },
  vision: { type: "string" },
  "text-model": { type: "string" },
  tokenizer: { type: "string" },
} as const;

/** Their lines in a command's help. */
export const WEIGHT_HELP = `  --checkpoint FILE    our checkpoint or exported weights (.safetensors)
  --vision FILE        the official image encoder checkpoint (.npz), with --text-model and --tokenizer
  --text-model FILE    the official text encoder checkpoint (.npz)
  --tokenizer FILE     the official tokenizer.model`;

export interface WeightFiles {
  checkpoint?: string;
  official: (string | undefined)[];
}

/** Which files the options name; refuses a mix or an incomplete official set. */
export function weightFiles(p: Parsed): WeightFiles {
  const checkpoint = stringOption(p, "checkpoint");
  const official = ["vision", "text-model", "tokenizer"].map((n) => stringOption(p, n));
  if (!checkpoint && official.some((f) => !f))
    throw new CliError(
      "give --checkpoint FILE, or all of --vision, --text-model and --tokenizer (the official release)",
    );
  if (checkpoint && official.some((f) => f))
    throw new CliError("give --checkpoint or the official files, not both");
  return { checkpoint, official };
}

/** Reads and checks the weights; called before the GPU is started. */
export async function readWeightFiles({ checkpoint, official }: WeightFiles): Promise<EncoderWeights> {
  return checkpoint
    ? readCheckpointWeights(await readInput(checkpoint, "--checkpoint"))
    : readOfficialWeights(
        await readInput(official[0] as string, "--vision"),
        await readInput(official[1] as string, "--text-model"),
        await readInput(official[2] as string, "--tokenizer"),
      );
}

/** --size: the image side, by default the model's, at least `min` and a multiple of the patch size. */
export function imageSizeOption(p: Parsed, vision: VisionConfig, min: number): number {
  const patch = vision.patchSize;
  const size = intOption(p, "size", vision.imageSize, min, 4096);
  if (size % patch !== 0) throw new CliError(`--size ${size} is not a multiple of the patch size ${patch}`);
  return size;
}
