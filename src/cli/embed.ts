// `tips embed`: features of images and texts from a frozen encoder (our checkpoint or the
// official release) written to one .safetensors file: cls1, cls2 [N, D] and patches
// [N, h*w, D] for the images, text [T, D] for the texts, and the inputs' names in the header.
import { readdir, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import cliProgress from "cli-progress";
import { decodeImage } from "../data/decode-node";
import type { RgbaImage } from "../data/image";
import { emptySkipCounts } from "../data/skips";
import { encodeSafetensors, type StoredTensor } from "../tensor/safetensors";
import { TipsEncoder } from "../tips/encoder";
import { CliError, intOption, parseCommand, stringOption } from "./args";
import { readInput, writeFileAtomic } from "./files";
import { describeGpu, nodeGpu } from "./gpu";
import { imageSizeOption, readWeightFiles, WEIGHT_HELP, WEIGHT_OPTIONS, weightFiles } from "./weights";

const HELP = `usage: tips embed [options] [IMAGE|FOLDER ...]

Writes CLS#1, CLS#2 (L2-normalised), patch tokens and text embeddings (L2-normalised) of a frozen
TIPS encoder to a .safetensors file (tensors cls1, cls2, patches, text; names in the header).

${WEIGHT_HELP}
  --text STRING        a text to embed (repeat the option for several)
  --texts-file FILE    texts to embed, one per line
  --size N             images are resized to N x N (default: the model's image size)
  --batch N            images per batch (default 16)
  --out FILE           output file (default embeddings.safetensors)
  --swiftshader        run on the CPU (SwiftShader) when there is no GPU`;

const OPTIONS = {
  ...WEIGHT_OPTIONS,
  text: { type: "string", multiple: true },
  "texts-file": { type: "string" },
  size: { type: "string" },
  batch: { type: "string" },
  out: { type: "string" },
} as const;

const IMAGE_EXTENSIONS = new Set([".jpg", ".jpeg", ".png", ".webp"]);

/** Image files named on the command line, folders expanded (sorted, images only). */
async function imagePaths(items: string[]): Promise<string[]> {
  const paths: string[] = [];
  for (const item of items) {
    const info = await stat(item).catch(() => null);
    if (!info) throw new CliError(`no such image or folder: ${item}`);
    if (info.isDirectory()) {
      const names = (await readdir(item))
        .filter((n) => IMAGE_EXTENSIONS.has(extname(n).toLowerCase()))
        .sort();
      paths.push(...names.map((n) => join(item, n)));
    } else paths.push(item);
  }
  return paths;
}

export async function embed(argv: string[]): Promise<void> {
  const p = parseCommand(argv, OPTIONS, HELP);
  if (!p) return;
  const files = weightFiles(p);
  const texts = [...((p.values.text as string[] | undefined) ?? [])];
  const textsFile = stringOption(p, "texts-file");
  if (textsFile) {
    const lines = new TextDecoder().decode(await readInput(textsFile, "--texts-file")).split(/\r?\n/);
    texts.push(...lines.filter((l) => l.trim().length > 0));
  }
  const paths = await imagePaths(p.positionals);
  if (!paths.length && !texts.length)
    throw new CliError("nothing to embed: name images or folders, or give --text");
  const batch = intOption(p, "batch", 16);
  const out = stringOption(p, "out") ?? "embeddings.safetensors";

  // The weights are read and checked before the GPU is started.
  const weights = await readWeightFiles(files);
  const size = imageSizeOption(p, weights.vision, weights.vision.patchSize);
  const images: RgbaImage[] = [];
  const names: string[] = [];
  const skipped = emptySkipCounts();
  const undecodable: string[] = [];
  for (const path of paths) {
    const image = await decodeImage(await readInput(path, "image"), skipped);
    if (image) {
      images.push(image);
      names.push(path);
    } else undecodable.push(path);
  }
  if (paths.length && !images.length)
    throw new CliError(
      `none of the ${paths.length} image(s) could be decoded as JPEG, PNG or WebP of at most 40 million pixels (${undecodable[0]}${paths.length > 1 ? ", ..." : ""}); nothing was written`,
    );
  for (const path of undecodable)
    console.warn(`skipped ${path}: not a decodable JPEG, PNG or WebP, or too large`);

  const gpu = await nodeGpu();
  console.log(`GPU: ${describeGpu(gpu)}`);
  const encoder = TipsEncoder.fromWeights(gpu, weights);
  const tensors: Record<string, StoredTensor> = {};
  if (images.length) {
    const bar = new cliProgress.SingleBar({ format: "images {value}/{total} |{bar}| ETA {eta_formatted}" });
    const tty = process.stdout.isTTY === true;
    if (tty) bar.start(images.length, 0);
    const f = await encoder.embedImages(images, size, batch, (done) => tty && bar.update(done));
    if (tty) bar.stop();
    const d = encoder.visionConfig.width;
    const [gh, gw] = f.grid;
    tensors.cls1 = { dtype: "F32", shape: [images.length, d], data: f.cls1 };
    tensors.cls2 = { dtype: "F32", shape: [images.length, d], data: f.cls2 };
    tensors.patches = { dtype: "F32", shape: [images.length, gh * gw, d], data: f.patches };
  }
  if (texts.length) {
    const t = await encoder.embedTexts(texts);
    tensors.text = { dtype: "F32", shape: [texts.length, encoder.textConfig.width], data: t };
  }
  await writeFileAtomic(
    out,
    encodeSafetensors(tensors, {
      images: JSON.stringify(names),
      texts: JSON.stringify(texts),
      size: String(size),
      grid: JSON.stringify([size / encoder.visionConfig.patchSize, size / encoder.visionConfig.patchSize]),
    }),
  );
  console.log(`wrote ${names.length} image(s) and ${texts.length} text(s) to ${out}`);
  encoder.dispose();
}
