// `tips <command> [options]`: the Node command line. Each command lives in its own file and is
// loaded only when asked for, so `tips shards` does not start the GPU. A failure prints one line
// (failure.ts); `--debug` adds its stack.
import { failureOf } from "./failure";

interface Command {
  summary: string;
  run: (argv: string[]) => Promise<void>;
}

const COMMANDS: Record<string, Command> = {
  train: {
    summary: "train a TIPS model (built-in scenes or WebDataset shards), with checkpoints and resume",
    run: async (argv) => (await import("./train")).train(argv),
  },
  shards: {
    summary:
      "write WebDataset shards (img2dataset layout) from scenes, openmoji or a folder of images with captions",
    run: async (argv) => (await import("./shards")).shards(argv),
  },
  embed: {
    summary: "write image (CLS#1, CLS#2, patches) and text embeddings of a frozen encoder to .safetensors",
    run: async (argv) => (await import("./embed")).embed(argv),
  },
  ablate: {
    summary: "train each row of the TIPS ablation with the same budget and seeds, evaluate, print the table",
    run: async (argv) => (await import("./ablate")).ablate(argv),
  },
  selfcheck: {
    summary:
      "check every op's kernel on this GPU against its float64 reference and finite-difference gradient",
    run: async (argv) => (await import("./selfcheck")).selfcheck(argv),
  },
  eval: {
    summary:
      "evaluate a frozen encoder on held-out scenes: probe mIoU and depth RMSE, kNN, zero-shot, retrieval R@1",
    run: async (argv) => (await import("./eval")).evalCommand(argv),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: tips <command> [options]   (tips <command> --help for its options; --debug prints a failure's stack)\n\ncommands:\n${lines.join("\n")}`;
}

async function main(argv: string[]): Promise<number> {
  const debug = argv.includes("--debug");
  const [name, ...rest] = argv.filter((a) => a !== "--debug");
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`tips: unknown command "${name}"; see tips --help`);
    return 2;
  }
  try {
    await command.run(rest);
    return typeof process.exitCode === "number" ? process.exitCode : 0; // e.g. 130 after Ctrl-C
  } catch (err) {
    const failure = failureOf(err, name);
    console.error(failure.line);
    if (debug) console.error(err instanceof Error ? err.stack : err);
    return failure.code;
  }
}

process.exitCode = await main(process.argv.slice(2));
