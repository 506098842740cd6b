// Frozen encoders for feature extraction: from the official release files and from our
// checkpoints, in the library and through `tips embed`.
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { renderScene } from "../../src/data/scenes/scene";
import { Vocabulary } from "../../src/data/text/vocab";
import { Rng } from "../../src/tensor/rng";
import { decodeSafetensors } from "../../src/tensor/safetensors";
import { tidy } from "../../src/tensor/scope";
import { Tensor } from "../../src/tensor/tensor";
import { preset } from "../../src/tips/config";
import { TipsEncoder } from "../../src/tips/encoder";
import { textBatch } from "../../src/tips/text";
import { WeightsError } from "../../src/tips/weights";
import { exportWeights } from "../../src/train/checkpoint";
import { Trainer, trainerOptions } from "../../src/train/trainer";
import { testGpu } from "../helpers/gpu";

const fixture = (name: string) =>
  readFile(join("test/fixtures/official", name)).then((b) => new Uint8Array(b));

function norms(x: Float32Array, d: number): number[] {
  return Array.from({ length: x.length / d }, (_, i) => Math.hypot(...x.subarray(i * d, (i + 1) * d)));
}

describe("TipsEncoder", () => {
  it("loads the official vision and text .npz with a tokenizer.model; images of any size are resized", async () => {
    const gpu = await testGpu();
    const encoder = TipsEncoder.fromOfficial(
      gpu,
      await fixture("vision.npz"),
      await fixture("text.npz"),
      await fixture("tokenizer.model"),
      2,
    );
    // An image whose pixels are exactly the 16x16 input: resizing to 16 is the identity.
    const rng = new Rng(3);
    const pixels = Uint8Array.from({ length: 16 * 16 * 4 }, (_, i) => (i % 4 === 3 ? 255 : rng.int(256)));
    const f = await encoder.embedImages(
      [
        { width: 16, height: 16, data: pixels },
        { width: 40, height: 24, data: new Uint8Array(40 * 24 * 4).fill(200) },
      ],
      16,
    );
    expect(f.grid).toEqual([4, 4]);
    const planar = new Float32Array(3 * 16 * 16);
    for (let c = 0; c < 3; c++) for (let p = 0; p < 256; p++) planar[c * 256 + p] = pixels[p * 4 + c] / 255;
    const direct = tidy(() => encoder.vision.forward(Tensor.from(gpu, planar, [1, 3, 16, 16])).patches);
    const want = (await direct.read()) as Float32Array;
    direct.dispose();
    const got = f.patches.subarray(0, want.length);
    expect(Math.max(...got.map((v, i) => Math.abs(v - want[i])))).toBeLessThan(1e-5);
    for (const n of [...norms(f.cls1, 32), ...norms(f.cls2, 32)]) expect(n).toBeCloseTo(1, 5);

    const texts = ["a red circle", "two dogs", ""];
    const t = await encoder.embedTexts(texts);
    const { ids } = encoder.tokenizer.encode(texts, encoder.textConfig.maxLength);
    const ref = tidy(() => encoder.text.forward(textBatch(gpu, ids, 3, encoder.textConfig.maxLength)));
    const raw = (await ref.read()) as Float32Array;
    ref.dispose();
    const n0 = Math.hypot(...raw.subarray(0, 32));
    expect(t[5]).toBeCloseTo(raw[5] / n0, 5);
    encoder.dispose();
  });

  it("refuses a tokenizer with more pieces than the text encoder has embeddings", async () => {
    const gpu = await testGpu();
    const big = new Uint8Array(await readFile("test/fixtures/sentencepiece/unigram.model"));
    expect(() => TipsEncoder.fromOfficial(gpu, fixture0.vision, fixture0.text, big)).toThrow(WeightsError);
  });
});

const fixture0 = {
  vision: new Uint8Array(await readFile("test/fixtures/official/vision.npz")),
  text: new Uint8Array(await readFile("test/fixtures/official/text.npz")),
};

describe("tips embed", () => {
  it("writes the same features as the library, for images in a folder and texts", async () => {
    const gpu = await testGpu();
    const dir = await mkdtemp(join(tmpdir(), "tips-embed-"));
    const config = preset("tips-test");
    const vocab = Vocabulary.build(
      ["a red circle", "a blue square on a striped floor"],
      config.text.vocabSize,
    );
    const trainer = new Trainer(gpu, trainerOptions(config, { batch: 2 }), vocab);
    const weights = join(dir, "w.safetensors");
    await writeFile(weights, await exportWeights(trainer, vocab));
    trainer.dispose();
    const scenes = [0, 1, 2].map((i) => renderScene(i, { size: 40, split: "heldout" }));
    for (const [i, s] of scenes.entries()) {
      await sharp(s.image, { raw: { width: 40, height: 40, channels: 4 } })
        .png()
        .toFile(join(dir, `img${i}.png`));
    }
    await writeFile(join(dir, "broken.png"), "not an image");
    const out = join(dir, "e.safetensors");
    const r = spawnSync(
      process.execPath,
      [
        "bin/tips.mjs",
        "embed",
        "--checkpoint",
        weights,
        dir,
        "--text",
        "a red circle",
        "--text",
        "a blue square",
        "--out",
        out,
      ],
      { encoding: "utf8" },
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toContain("skipped");
    const { tensors, metadata } = decodeSafetensors(new Uint8Array(await readFile(out)));
    expect(JSON.parse(metadata.images)).toEqual([0, 1, 2].map((i) => join(dir, `img${i}.png`)));
    expect(tensors.get("cls1")?.shape).toEqual([3, 32]);
    expect(tensors.get("patches")?.shape).toEqual([3, 16, 32]);
    expect(tensors.get("text")?.shape).toEqual([2, 32]);

    const encoder = TipsEncoder.fromCheckpoint(gpu, new Uint8Array(await readFile(weights)));
    const images = scenes.map((s) => ({ width: 40, height: 40, data: s.image }));
    const f = await encoder.embedImages(images);
    expect(tensors.get("cls2")?.data).toEqual(f.cls2);
    expect(tensors.get("text")?.data).toEqual(await encoder.embedTexts(["a red circle", "a blue square"]));
    encoder.dispose();

    const bad = spawnSync(
      process.execPath,
      ["bin/tips.mjs", "embed", "--checkpoint", join(dir, "img0.png"), dir],
      { encoding: "utf8" },
    );
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/safetensors/);
    await rm(dir, { recursive: true, force: true });
  }, 300_000);
});
