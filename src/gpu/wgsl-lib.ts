// Shared WGSL (kernels/lib/) included by name: a line `#include NAME` in a kernel's source (or in
// a library file) brings in kernels/lib/NAME.wgsl, once per kernel however many files ask for it.
// The included files go after the kernel's own source (WGSL declarations may come in any order),
// each directive becomes a comment in place, so the kernel's own lines keep their numbers; a
// compile error names the file and line each message points at (sourceLine).
import activation from "../../kernels/lib/activation.wgsl?raw";
import blockReduce from "../../kernels/lib/block_reduce.wgsl?raw";
import flatIndex from "../../kernels/lib/flat_index.wgsl?raw";
import rowTiles from "../../kernels/lib/row_tiles.wgsl?raw";
import workgroup from "../../kernels/lib/workgroup.wgsl?raw";
import { KernelError } from "./errors";

/** Invocations per workgroup of the flat kernels: `const WG` of kernels/lib/workgroup.wgsl. */
export const WG = 256;

export const WGSL_LIBRARY: Readonly<Record<string, string>> = {
  activation,
  block_reduce: blockReduce,
  flat_index: flatIndex,
  row_tiles: rowTiles,
  workgroup,
};

const wgslWg = /const WG = (\d+)u;/.exec(workgroup)?.[1];
if (Number(wgslWg) !== WG)
  throw new KernelError(
    "workgroup",
    `kernels/lib/workgroup.wgsl has WG = ${wgslWg}, src/gpu/wgsl-lib.ts ${WG}: make them equal`,
  );

const INCLUDE = /^[ \t]*#include[ \t]+(\S+)[ \t]*$/gm;

/** A kernel's WGSL with its includes resolved, and the file each run of lines came from. */
export interface WgslSource {
  code: string;
  /** In order: the file's name and the line of `code` (1-based) where its text starts. */
  files: readonly { file: string; start: number }[];
}

function lineCount(text: string): number {
  return text.split("\n").length;
}

/** Resolves the `#include` lines of a kernel's sources (each named as errors should call it). */
export function includeWgsl(
  kernelName: string,
  sources: readonly { file: string; text: string }[],
  library: Readonly<Record<string, string>> = WGSL_LIBRARY,
): WgslSource {
  const parts = sources.map((s) => ({ ...s }));
  const included = new Set<string>();
  // parts grows while it is walked: each included file's own includes follow it.
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    part.text = part.text.replace(INCLUDE, (line, name: string) => {
      if (!Object.hasOwn(library, name))
        throw new KernelError(
          kernelName,
          `${part.file} includes "${name}", which kernels/lib/ does not have (it has ${Object.keys(library).join(", ")})`,
        );
      if (!included.has(name)) {
        included.add(name);
        parts.push({ file: `lib/${name}.wgsl`, text: library[name] });
      }
      return `// ${line.trim()} (appended below)`;
    });
  }
  const files: { file: string; start: number }[] = [];
  let start = 1;
  for (const part of parts) {
    files.push({ file: part.file, start });
    start += lineCount(part.text);
  }
  return { code: parts.map((p) => p.text).join("\n"), files };
}

/** A compiler message with each `:line:column` it cites followed by the file and line it came from. */
export function nameSourceLines(source: WgslSource, message: string): string {
  return message.replace(/(^|\s):(\d+):(\d+) /gm, (_, before: string, line: string, column: string) => {
    return `${before}:${line}:${column} (${sourceLine(source, Number(line))}) `;
  });
}

/** "file:line" of line `line` (1-based) of a resolved kernel's code. */
export function sourceLine(source: WgslSource, line: number): string {
  let at = source.files[0];
  for (const f of source.files) if (f.start <= line) at = f;
  return `${at.file}:${line - at.start + 1}`;
}
