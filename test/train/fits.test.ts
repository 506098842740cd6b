// The pre-flight check of a training run against the adapter's buffer limits: its parameter
// count is the model's own, and a run too big for the limits is refused with what to change.
import { describe, expect, it } from "vitest";
import { MissingFeatureError } from "../../src/gpu/errors";
import { preset, type TipsConfig } from "../../src/tips/config";
import { TipsModel } from "../../src/tips/model";
import { checkTrainingFits, largestBuffers, parameterCount } from "../../src/train/fits";
import { Trainer, trainerOptions } from "../../src/train/trainer";
import { testGpu } from "../helpers/gpu";

const swiglu = (): TipsConfig => {
  const c = preset("tips-test");
  c.vision.ffn = "swiglu";
  c.name = "tips-test-swiglu";
  return c;
};

describe("checkTrainingFits", () => {
  it("counts the parameters the model creates", async () => {
    const gpu = await testGpu();
    for (const config of [preset("tips-test"), preset("tips-micro"), swiglu()]) {
      const model = new TipsModel(gpu, config);
      expect(parameterCount(config), config.name).toBe(model.params.count);
      model.dispose();
    }
  });

  it("lets runs through that fit, and says what to change for those that do not", () => {
    const limits = { maxBufferSize: 256 * 2 ** 20, maxStorageBufferBindingSize: 128 * 2 ** 20 };
    expect(checkTrainingFits(preset("tips-micro"), 64, 1, limits)).toBeNull();
    // The student's global crops' MLP: 1024 images x 2 views x (64 patches + 2) tokens x 768 x 4 bytes.
    const big = checkTrainingFits(preset("tips-micro"), 1024, 1, limits);
    expect(big).toBe(
      "this GPU cannot hold tips-micro at 1024 examples per micro-batch: the image encoder's MLP " +
        "activations need one buffer of 396 MiB, and the adapter allows at most 128 MiB per " +
        "buffer. To train here, lower the batch (or raise gradient accumulation) so that 1024 examples " +
        "per micro-batch become fewer, or choose a smaller preset.",
    );
    expect(checkTrainingFits(preset("tips-micro"), 1024, 8, limits)).toBeNull();
    // ViT-g's parameters alone are over 4 GiB: no batch makes it fit.
    expect(checkTrainingFits(preset("tips-g14"), 2, 1, { maxStorageBufferBindingSize: 2 ** 31 - 4 })).toMatch(
      /the parameters .* need one buffer of \d+ MiB, .* choose a smaller one\.$/,
    );
    const needs = largestBuffers(preset("tips-micro"), 64);
    expect(needs.map((n) => n.bytes)).toEqual([...needs.map((n) => n.bytes)].sort((a, b) => b - a));
    expect(needs.find((n) => n.what.startsWith("the iBOT"))?.bytes).toBe(4 * 64 * 64 * 1024);
  });

  it("stops a Trainer before it allocates anything on an adapter too small for the run", async () => {
    const gpu = await testGpu();
    const limit = gpu.info.limits.maxStorageBufferBindingSize;
    // Enough examples per micro-batch that the image encoder's MLP activations pass the limit.
    const config = preset("tips-test");
    const batch = 2 * Math.ceil(limit / (4 * 2 * 6 * config.vision.mlpHidden));
    const before = gpu.pool.bytesCreated;
    const tokenizer = { encode: () => ({ ids: new Int32Array(0) }) };
    expect(() => new Trainer(gpu, trainerOptions(config, { batch }), tokenizer)).toThrow(MissingFeatureError);
    expect(() => new Trainer(gpu, trainerOptions(config, { batch }), tokenizer)).toThrow(/lower the batch/);
    expect(gpu.pool.bytesCreated).toBe(before);
  });
});
