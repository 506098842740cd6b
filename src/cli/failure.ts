// What the CLI prints when a command fails: one line `tips <command>: <what is wrong>` and an exit
// code, 2 for the caller's mistakes (options, missing or malformed input files) and 1 for the
// rest. Errors are told apart by name so that this file loads none of the modules that throw them.

/** Errors that mean an option or an input file is wrong: the caller can fix them. */
const CALLER_MISTAKES = new Set([
  "CliError",
  "SafetensorsError",
  "NpzError",
  "CheckpointError",
  "WeightsError",
  "ConfigError",
]);

const MAX_LINE = 400;

export interface Failure {
  line: string;
  code: 1 | 2;
}

export function failureOf(err: unknown, command: string): Failure {
  const name = err instanceof Error ? err.name : "";
  const raw = err instanceof Error ? err.message : String(err);
  let message = oneLine(raw) || name || "failed";
  if (message.length > MAX_LINE) message = `${message.slice(0, MAX_LINE - 30)}... (--debug prints it all)`;
  if ((err as { seeHelp?: boolean }).seeHelp) message += `; see tips ${command} --help`;
  return { line: `tips ${command}: ${message}`, code: CALLER_MISTAKES.has(name) ? 2 : 1 };
}

/** A message's lines joined with "; " (a line ending in ":" runs on into the next). */
function oneLine(message: string): string {
  const lines = message
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  let out = "";
  for (const line of lines) out += !out ? line : out.endsWith(":") ? ` ${line}` : `; ${line}`;
  return out;
}
