// Files for the CLI: inputs read with a one-line error naming the option and what is wrong, and
// writes that are atomic (temporary name, fsync, rename), so that a crash or Ctrl-C while saving
// leaves the previous file whole.
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CliError } from "./args";

const FILE_PROBLEMS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EISDIR: "is a folder, not a file",
  EACCES: "permission denied",
};

/** What a failed file-system call says, short: "no such file or directory" for ENOENT. */
export function fileProblem(err: unknown): string {
  const code = (err as { code?: string }).code;
  return (code && FILE_PROBLEMS[code]) ?? (err instanceof Error ? err.message : String(err));
}

/** The bytes of an input file; `what` names it in the error (e.g. "--checkpoint"). */
export async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw new CliError(`cannot read ${what} ${path}: ${fileProblem(err)}`);
  }
}

export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  try {
    const file = await open(temp, "w");
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
