// Option parsing shared by the CLI commands: node:util's parseArgs with errors that say which
// option is wrong and what it takes.
import { type ParseArgsConfig, parseArgs } from "node:util";

/** A mistake in how a command was called: printed without a stack trace, exit code 2. */
export class CliError extends Error {
  override name = "CliError";
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
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    }) as Parsed;
  } catch (err) {
    throw new CliError(`${err instanceof Error ? err.message : String(err)}\n\n${help}`);
  }
  if (parsed.values.help) {
    console.log(help);
    return null;
  }
  return parsed;
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
