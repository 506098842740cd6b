// Which shards a data spec names. A spec is a comma-separated list whose items are http(s) URLs,
// local paths or folders, each possibly holding brace patterns as webdataset and img2dataset write
// them: `shards-{000000..000099}.tar` (zero padding kept), `{train,val}-{0..9}.tar`.

export interface ResolveOptions {
  /**
   * The .tar files of a folder, sorted, or null if `path` is not a folder (Node: listTarFolder from
   * source-node.ts). Without it, local paths are taken as files.
   */
  listFolder?: (path: string) => Promise<string[] | null>;
}

const EXPECTED =
  'expected a brace pattern such as "shards-{000000..000099}.tar", a comma-separated list, ' +
  "http(s) URLs, local .tar paths or a folder holding .tar files";

export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/** The shard names of a spec (or of a list of specs), in order; throws if there are none. */
export async function resolveShards(
  spec: string | readonly string[],
  options: ResolveOptions = {},
): Promise<string[]> {
  const items = (typeof spec === "string" ? [spec] : spec)
    .flatMap((s) => splitTopLevel(s).map((item) => item.trim()))
    .filter((item) => item.length > 0)
    .flatMap(expandBraces);
  const shards: string[] = [];
  for (const item of items) {
    const folder = options.listFolder && !isUrl(item) && !/\.tar$/i.test(item);
    const listed = folder ? await options.listFolder!(item) : null;
    shards.push(...(listed ?? [item]));
  }
  if (shards.length === 0) throw new Error(`no shards in ${JSON.stringify(spec)}: ${EXPECTED}`);
  return shards;
}

/** Expands every brace group: numeric ranges `{a..b}` (descending too) and alternatives `{x,y}`. */
export function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf("{");
  if (open < 0) return [pattern];
  const close = matchingBrace(pattern, open);
  if (close < 0) return [pattern];
  const head = pattern.slice(0, open);
  const inner = pattern.slice(open + 1, close);
  const tails = expandBraces(pattern.slice(close + 1));
  const range = /^(\d+)\.\.(\d+)$/.exec(inner);
  const alternatives = range ? numberRange(range[1], range[2]) : splitTopLevel(inner);
  if (!range && alternatives.length < 2) return tails.map((t) => `${head}{${inner}}${t}`);
  return alternatives.flatMap(expandBraces).flatMap((a) => tails.map((t) => head + a + t));
}

// Zero padding as braceexpand (Python) and bash do it: if either end has a leading zero, every
// number is padded to the longer end's width.
function numberRange(from: string, to: string): string[] {
  const padded = (from.length > 1 && from[0] === "0") || (to.length > 1 && to[0] === "0");
  const width = padded ? Math.max(from.length, to.length) : 0;
  const a = Number(from);
  const b = Number(to);
  const step = a <= b ? 1 : -1;
  const out: string[] = [];
  for (let i = a; i !== b + step; i += step) out.push(String(i).padStart(width, "0"));
  return out;
}

function matchingBrace(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === "{") depth++;
    else if (s[i] === "}" && --depth === 0) return i;
  }
  return -1;
}

/** Splits at the commas that are outside braces. */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= s.length; i++) {
    if (i === s.length || (s[i] === "," && depth === 0)) {
      parts.push(s.slice(start, i));
      start = i + 1;
    } else if (s[i] === "{") depth++;
    else if (s[i] === "}") depth--;
  }
  return parts;
}
