// Runs the `tips` CLI (bin/tips.mjs, which bundles it on first use) as a child process, as a user
// would, and collects what it prints.
import { type ChildProcess, spawn } from "node:child_process";

export interface TipsRun {
  code: number | null;
  /** stdout and stderr interleaved as they came, trimmed. */
  out: string;
  stdout: string;
  stderr: string;
}

/** `tips <args>` started: the child (to signal it) and its end. */
export function startTips(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { child: ChildProcess; done: Promise<TipsRun> } {
  const child = spawn(process.execPath, ["bin/tips.mjs", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let out = "";
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => {
    out += d;
    stdout += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
    stderr += d;
  });
  const done = new Promise<TipsRun>((resolve) =>
    child.on("close", (code) => resolve({ code, out: out.trim(), stdout, stderr })),
  );
  return { child, done };
}

/** `tips <args>` run to its end. */
export function tips(args: string[], env?: NodeJS.ProcessEnv): Promise<TipsRun> {
  return startTips(args, env).done;
}
