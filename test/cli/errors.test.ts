// Every failure a user can cause prints one line `tips <command>: <what is wrong>`: exit 2 for the
// caller's mistakes (options, missing or malformed files), 1 for the rest, a stack only with
// --debug. Malformed files are refused before the GPU starts, so no case here starts it: the
// commands run in this process and their errors go through the CLI's failureOf, and a few
// cases run `tips` itself.
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embed } from "../../src/cli/embed";
import { evalCommand } from "../../src/cli/eval";
import { type Failure, failureOf } from "../../src/cli/failure";
import { train } from "../../src/cli/train";
import { decodeSafetensors, encodeSafetensors } from "../../src/tensor/safetensors";
import { tips } from "../helpers/cli";

const TRAINED = "test/fixtures/trained/tips-test-80.safetensors";
const TOKENIZER = "test/fixtures/official/tokenizer.model";

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = { embed, eval: evalCommand, train };

/** What `tips <args>` prints and exits with when it fails before the GPU starts. */
async function failure([command, ...argv]: string[]): Promise<Failure> {
  try {
    await COMMANDS[command](argv);
  } catch (err) {
    return failureOf(err, command);
  }
  throw new Error(`tips ${command} ${argv.join(" ")} did not fail`);
}

/** The trained fixture with its header's config changed by `edit`. */
function withConfig(edit: (config: Record<string, Record<string, unknown>>) => void): Uint8Array {
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(TRAINED)));
  const config = JSON.parse(metadata.config);
  edit(config);
  return encodeSafetensors(Object.fromEntries(tensors), { ...metadata, config: JSON.stringify(config) });
}

describe("tips errors", () => {
  let dir: string;
  const file = (name: string) => join(dir, name);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tips-errors-"));
    const noise = Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 255);
    await writeFile(file("noise.safetensors"), noise);
    await writeFile(file("noise.npz"), noise);
    await writeFile(
      file("deep.safetensors"),
      withConfig((c) => (c.vision.depth = 100000)),
    );
    await writeFile(
      file("wide.safetensors"),
      withConfig((c) => (c.vision.width = 2 ** 20)),
    );
    await writeFile(
      file("heads.safetensors"),
      withConfig((c) => (c.text.heads = 0)),
    );
    await writeFile(
      file("string.safetensors"),
      withConfig((c) => (c.vision.mlpHidden = "64")),
    );
    await writeFile(file("broken.png"), "not a png");
    await writeFile(file("broken.jpg"), "not a jpeg");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("says what is wrong in one line, exit 2, for options and input files", async () => {
    const cases: [string[], string | RegExp][] = [
      [["embed", "--frobnicate"], "tips embed: unknown option --frobnicate; see tips embed --help"],
      [
        ["eval", "--checkpoint", TRAINED, "--train", "-5"],
        'tips eval: --train takes an integer from 2 to 1000000, got "-5"',
      ],
      [["train", "--steps", "-1"], 'tips train: --steps takes an integer from 1 to 2147483648, got "-1"'],
      [["train", "--steps"], "tips train: --steps needs a value; see tips train --help"],
      [["eval", "stray"], 'tips eval: unexpected argument "stray"; see tips eval --help'],
      [
        ["embed", "--checkpoint", file("missing.safetensors"), "--text", "a"],
        `tips embed: cannot read --checkpoint ${file("missing.safetensors")}: no such file or directory`,
      ],
      [
        ["train", "--data", "/nonexistent/dir"],
        "tips train: --data /nonexistent/dir: no such file or directory",
      ],
      [
        ["embed", "--checkpoint", file("noise.safetensors"), "--text", "a"],
        /^tips embed: not a valid safetensors file: header length/,
      ],
      [["eval", "--checkpoint", file("noise.safetensors")], /^tips eval: not a valid safetensors file/],
      [["train", "--resume", file("noise.safetensors")], /^tips train: not a valid safetensors file/],
      [["train", "--from", file("noise.safetensors")], /^tips train: not a valid safetensors file/],
      [
        [
          "embed",
          "--vision",
          file("noise.npz"),
          "--text-model",
          file("noise.npz"),
          "--tokenizer",
          TOKENIZER,
          "--text",
          "a",
        ],
        /^tips embed: not a valid \.npz \(zip\) file/,
      ],
      [
        [
          "eval",
          "--vision",
          "test/fixtures/official/vision.npz",
          "--text-model",
          file("noise.npz"),
          "--tokenizer",
          TOKENIZER,
        ],
        /^tips eval: not a valid \.npz \(zip\) file/,
      ],
      [
        ["embed", "--checkpoint", file("deep.safetensors"), "--text", "a"],
        /vision\.depth must be an integer from 1 to 128, got 100000$/,
      ],
      [
        ["eval", "--checkpoint", file("wide.safetensors")],
        /vision\.width must be an integer from 1 to 8192, got 1048576$/,
      ],
      [
        ["embed", "--checkpoint", file("heads.safetensors"), "--text", "a"],
        /text\.heads must be an integer from 1 to 256, got 0$/,
      ],
      [
        ["train", "--resume", file("string.safetensors")],
        /vision\.mlpHidden must be an integer from 1 to 65536, got "64"$/,
      ],
      [
        ["embed", "--checkpoint", TRAINED, "--size", "10", "--text", "a"],
        "tips embed: --size 10 is not a multiple of the patch size 4",
      ],
      [
        ["eval", "--checkpoint", TRAINED, "--size", "18"],
        "tips eval: --size 18 is not a multiple of the patch size 4",
      ],
      [
        [
          "embed",
          "--checkpoint",
          TRAINED,
          file("broken.png"),
          file("broken.jpg"),
          "--out",
          file("none.safetensors"),
        ],
        /^tips embed: none of the 2 image\(s\) could be decoded .*; nothing was written$/,
      ],
    ];
    for (const [args, message] of cases) {
      const { line, code } = await failure(args);
      if (typeof message === "string") expect(line).toBe(message);
      else expect(line).toMatch(message);
      expect(line.includes("\n"), line).toBe(false);
      expect(code, line).toBe(2);
    }
    expect(existsSync(file("none.safetensors"))).toBe(false);
  });

  it("prints the one line as the whole output of `tips`, and the stack only with --debug", async () => {
    const args = ["embed", "--checkpoint", file("noise.safetensors"), "--text", "a"];
    const plain = await tips(args);
    expect(plain.code).toBe(2);
    expect(plain.out).toMatch(/^tips embed: not a valid safetensors file: [^\n]*$/);
    const debug = await tips([...args, "--debug"]);
    expect(debug.code).toBe(2);
    expect(debug.out.split("\n")[0]).toBe(plain.out);
    expect(debug.out).toMatch(/SafetensorsError: .*\n\s+at /);
    const unknown = await tips(["nonsense"]);
    expect([unknown.code, unknown.out]).toEqual([2, 'tips: unknown command "nonsense"; see tips --help']);
  });

  it("says first what to do when there is no GPU, exit 1", async () => {
    const env = { ...process.env, VK_ICD_FILENAMES: file("no-driver.json"), LD_LIBRARY_PATH: "" };
    const r = await tips(
      ["embed", "--checkpoint", TRAINED, "--text", "a", "--out", file("e.safetensors")],
      env,
    );
    expect(r.code).toBe(1);
    expect(r.out.split("\n").at(-1)).toBe(
      `tips embed: no GPU adapter, not even SwiftShader: check VK_ICD_FILENAMES=${file("no-driver.json")} and LD_LIBRARY_PATH`,
    );
    expect(r.out).not.toMatch(/\.m?[jt]s:\d+/); // no JavaScript stack
  });
});
