// The encoder weights that `tips embed` and `tips eval` run: one of our checkpoints
// (--checkpoint) or the official release (--vision, --text-model, --tokenizer).
import { type EncoderWeights, readCheckpointWeights, readOfficialWeights } from "../tips/encoder";
import { CliError, type Parsed, stringOption } from "./args";
import { readInput } from "./files";

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
