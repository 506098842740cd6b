// Option parsing shared by the CLI commands: node:util's parseArgs with errors that say which
// option is wrong and what it takes.
import { type ParseArgsConfig, parseArgs } from "node:util";

/**
 * A mistake in how a command was called: printed as one line without a stack trace, exit code 2.
 * With `seeHelp` the line points at the command's --help (for options it does not know or parse).
 */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly seeHelp = false,
  ) {
    super(message);
  }
}

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Parses argv; prints `help` and returns null for --help. */
export function parseCommand(argv: string[], options: OptionSpec, help: string): Parsed | null {
  let parsed: Parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv, options),
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    }) as Parsed;
  } catch (err) {
    throw new CliError(parserMistake(err), true);
  }
  if (parsed.values.help) {
    console.log(help);
    return null;
  }
  return parsed;
}

/**
 * `--steps -5` as `--steps=-5`: node:util's parser takes a value starting with a dash for an
 * option, so the option's own check can say what range it takes.
 */
function joinNegativeValues(argv: string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith("--") ? argv[i].slice(2) : "";
    const next = argv[i + 1];
    if (options[name]?.type === "string" && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

/** node:util's parser errors as one short line. */
function parserMistake(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  const code = (err as { code?: string }).code;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${option}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    if (message.includes("does not take an argument")) return `${option} takes no value`;
    return `${option} needs a value`;
  }
  return message.split("\n")[0];
}

/** An integer option within [min, max], or `fallback` when absent. */
export function intOption(p: Parsed, name: string, fallback: number, min = 1, max = 2 ** 31): number {
  const raw = p.values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new CliError(`--${name} takes an integer from ${min} to ${max}, got "${raw}"`);
  return v;
}

/** A number option (finite, >= min), or `fallback` when absent. */
export function numberOption(p: Parsed, name: string, fallback: number, min = -Infinity): number {
  const raw = p.values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min) throw new CliError(`--${name} takes a number >= ${min}, got "${raw}"`);
  return v;
}

export function stringOption(p: Parsed, name: string): string | undefined {
  const raw = p.values[name];
  return typeof raw === "string" ? raw : undefined;
}
