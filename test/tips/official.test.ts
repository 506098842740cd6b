// Our encoders against the official PyTorch ones (google-deepmind/tips, pytorch/), on small random
// checkpoints in the official .npz layout made by test/fixtures/official/make.py (the g/14
// SwiGLU block: make_swiglu.py).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ParameterStore } from "../../src/tensor/params";
import { Rng } from "../../src/tensor/rng";
import { tidy } from "../../src/tensor/scope";
import { Tensor } from "../../src/tensor/tensor";
import { readNpz } from "../../src/tips/npz";
import { TextTower, textBatch } from "../../src/tips/text";
import { VisionEncoder } from "../../src/tips/vision";
import { loadArrays, textConfigOf, visionConfigOf, WeightsError } from "../../src/tips/weights";
import { testGpu } from "../helpers/gpu";

const npz = (f: string) => readNpz(new Uint8Array(readFileSync(`test/fixtures/official/${f}`)));
const io = npz("io.npz");
const TOLERANCE = 2e-4;

function worst(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let w = 0;
  for (let i = 0; i < want.length; i++) w = Math.max(w, Math.abs(got[i] - want[i]));
  return w;
}

describe("official TIPS checkpoints", () => {
  it("image encoder: CLS#1, CLS#2 and patch tokens match PyTorch, also on a resized position grid", async () => {
    const gpu = await testGpu();
    const arrays = npz("vision.npz");
    const config = visionConfigOf(arrays, 2);
    expect(config).toMatchObject({
      width: 32,
      depth: 2,
      patchSize: 4,
      posGrid: 4,
      mlpHidden: 128,
      ffn: "mlp",
    });
    const store = new ParameterStore(gpu);
    const vision = new VisionEncoder(gpu, store, config, new Rng(1));
    const { ignored } = loadArrays(store, arrays);
    expect(ignored).toEqual([]);
    for (const key of ["a", "b"]) {
      const images = io.get(`images_${key}`)!;
      const out = tidy(() => {
        const o = vision.forward(Tensor.from(gpu, images.data, images.shape));
        return [o.cls1, o.cls2, o.patches];
      });
      const [cls1, cls2, patches] = await Promise.all(out.map((t) => t.read()));
      expect(worst(cls1, io.get(`${key}_cls1`)!.data)).toBeLessThan(TOLERANCE);
      expect(worst(cls2, io.get(`${key}_cls2`)!.data)).toBeLessThan(TOLERANCE);
      expect(worst(patches, io.get(`${key}_patches`)!.data)).toBeLessThan(TOLERANCE);
      for (const t of out) t.dispose();
    }
    store.dispose();
  });

  it("g/14 block (SwiGLU feed-forward): CLS#1, CLS#2 and patch tokens match PyTorch", async () => {
    const gpu = await testGpu();
    const arrays = npz("vision_swiglu.npz");
    const swigluIo = npz("io_swiglu.npz");
    const config = visionConfigOf(arrays, 2);
    // SwiGLUFFNFused's hidden width from mlp_ratio 4 at width 32: (int(128 * 2 / 3) + 7) // 8 * 8.
    expect(config).toMatchObject({ width: 32, depth: 2, mlpHidden: 88, ffn: "swiglu" });
    const store = new ParameterStore(gpu);
    const vision = new VisionEncoder(gpu, store, config, new Rng(1));
    expect(loadArrays(store, arrays).ignored).toEqual([]);
    const images = swigluIo.get("images")!;
    const out = tidy(() => {
      const o = vision.forward(Tensor.from(gpu, images.data, images.shape));
      return [o.cls1, o.cls2, o.patches];
    });
    const [cls1, cls2, patches] = await Promise.all(out.map((t) => t.read()));
    expect(worst(cls1, swigluIo.get("cls1")!.data)).toBeLessThan(TOLERANCE);
    expect(worst(cls2, swigluIo.get("cls2")!.data)).toBeLessThan(TOLERANCE);
    expect(worst(patches, swigluIo.get("patches")!.data)).toBeLessThan(TOLERANCE);
    for (const t of out) t.dispose();
    store.dispose();
  });

  it("text encoder: the pooled embedding matches PyTorch with padding", async () => {
    const gpu = await testGpu();
    const arrays = npz("text.npz");
    const config = textConfigOf(arrays, 2, 6);
    const store = new ParameterStore(gpu);
    const text = new TextTower(gpu, store, config, new Rng(1));
    const { ignored } = loadArrays(store, arrays);
    expect(ignored).toEqual(["temperature"]);
    const ids = io.get("ids")!;
    const out = tidy(() => text.forward(textBatch(gpu, Int32Array.from(ids.data), 2, 6)));
    expect(worst(await out.read(), io.get("text")!.data)).toBeLessThan(TOLERANCE);
    out.dispose();
    store.dispose();
  });

  it("refuses a checkpoint that does not fit, naming what is wrong, and loads nothing", async () => {
    const gpu = await testGpu();
    const arrays = npz("vision.npz");
    const store = new ParameterStore(gpu);
    new VisionEncoder(gpu, store, { ...visionConfigOf(arrays, 2), mlpHidden: 64 }, new Rng(1));
    const before = await store.get("cls_token").read();
    expect(() => loadArrays(store, arrays)).toThrow(WeightsError);
    expect(() => loadArrays(store, arrays)).toThrow(
      /blocks\.0\.mlp\.fc1\.weight: file has \[128,32\], model has \[64,32\]/,
    );
    expect([...(await store.get("cls_token").read())]).toEqual([...before]);
    arrays.delete("norm.weight");
    expect(() => visionConfigOf(npz("text.npz"))).toThrow(/no patch_embed\.proj\.weight/);
    store.dispose();
  });
});
