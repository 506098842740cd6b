// Shards for the data tests, built in memory: tiny images from sharp, shards from writeShards or
// from hand-made tar entries (for the broken cases).
import { packTar } from "modern-tar";
import sharp from "sharp";
import type { ImageType } from "../../src/data/image";
import type { WebDataset } from "../../src/data/webdataset/reader";
import type { Sample } from "../../src/data/webdataset/sample";
import { memorySink, type SampleToWrite, writeShards } from "../../src/data/webdataset/write";

/** A w x h image whose pixels depend on `seed`, encoded as `type`. */
export async function encodedImage(seed: number, type: ImageType = "png", w = 3, h = 2): Promise<Uint8Array> {
  const pixels = new Uint8Array(w * h * 3).map((_, i) => (seed * 37 + i * 11) % 256);
  const image = sharp(pixels, { raw: { width: w, height: h, channels: 3 } });
  const encoded =
    type === "png" ? image.png() : type === "jpeg" ? image.jpeg() : image.webp({ lossless: true });
  return new Uint8Array(await encoded.toBuffer());
}

export async function makeSamples(n: number): Promise<SampleToWrite[]> {
  const types: ImageType[] = ["png", "jpeg", "webp"];
  return Promise.all(
    Array.from({ length: n }, async (_, i) => ({
      image: await encodedImage(i, types[i % 3]),
      imageType: types[i % 3],
      webCaption: `web caption ${i}: a photo, café ☕`,
      syntheticCaption: i % 4 === 3 ? null : `synthetic caption ${i}`,
      meta: { url: `https://example.com/${i}.jpg`, width: 3, height: 2 },
    })),
  );
}

/** Shards `${prefix}-000000.tar`, ... in memory, as File objects. */
export async function makeShards(
  samples: SampleToWrite[],
  perShard: number,
  prefix = "shards",
): Promise<File[]> {
  const sink = memorySink();
  const { shards } = await writeShards(samples, sink, { prefix, samplesPerShard: perShard });
  return shards.map((name) => new File([sink.files.get(name) as Uint8Array<ArrayBuffer>], name));
}

/** A tar of the given entries (string bodies are UTF-8), as a File. */
export async function tarFile(name: string, entries: [string, string | Uint8Array][]): Promise<File> {
  const tar = await packTar(
    entries.map(([path, body]) => {
      const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
      return { header: { name: path, size: bytes.length, mtime: new Date(0) }, body: bytes };
    }),
  );
  return new File([tar], name);
}

export async function collect(dataset: WebDataset, limit = Infinity): Promise<Sample[]> {
  const out: Sample[] = [];
  while (out.length < limit) {
    const r = await dataset.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

/** What identifies a sample in order checks. */
export function ids(samples: Sample[]): string[] {
  return samples.map((s) => `${s.shard}#${s.key}`);
}
