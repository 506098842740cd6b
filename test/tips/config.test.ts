// A model's config is checked before anything is built from it: the presets pass; configs that
// lie (a huge depth or width, negative or zero sizes, strings for numbers) and configs that do not
// match the tensors beside them in a file are refused with what is wrong, as are encoders larger
// than the adapter's buffers.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeSafetensors, encodeSafetensors } from "../../src/tensor/safetensors";
import {
  ConfigError,
  PRESETS,
  preset,
  textParameterCount,
  validateConfig,
  validateEncoderConfig,
  visionParameterCount,
} from "../../src/tips/config";
import { checkEncoderFits, readCheckpointWeights } from "../../src/tips/encoder";
import { WeightsError } from "../../src/tips/weights";
import { CheckpointError, readCheckpoint } from "../../src/train/checkpoint";

/** A config as a file's JSON holds it, any field of which a test may overwrite. */
type Editable = Record<string, Record<string, unknown>>;

const trained = new Uint8Array(readFileSync("test/fixtures/trained/tips-test-80.safetensors"));

/** The trained fixture with its header's config changed by `edit`. */
function withConfig(edit: (config: Editable) => void): Uint8Array {
  const { tensors, metadata } = decodeSafetensors(trained);
  const config = JSON.parse(metadata.config);
  edit(config);
  return encodeSafetensors(Object.fromEntries(tensors), { ...metadata, config: JSON.stringify(config) });
}

describe("validateConfig", () => {
  it("accepts every preset", () => {
    for (const name of Object.keys(PRESETS)) expect(() => validateConfig(preset(name))).not.toThrow();
  });

  it("refuses sizes out of range, wrong types and missing parts, saying which field", () => {
    const cases: [(c: Editable) => void, RegExp][] = [
      [(c) => (c.vision.depth = 100000), /vision\.depth must be an integer from 1 to 128, got 100000/],
      [(c) => (c.vision.width = 2 ** 20), /vision\.width must be an integer from 1 to 8192, got 1048576/],
      [(c) => (c.vision.width = -32), /vision\.width must be an integer .* got -32/],
      [(c) => (c.text.heads = 0), /text\.heads must be an integer from 1 to 256, got 0/],
      [(c) => (c.vision.mlpHidden = "64"), /vision\.mlpHidden must be an integer .* got "64"/],
      [(c) => (c.vision.patchSize = 4.5), /vision\.patchSize must be an integer/],
      [(c) => (c.vision.ffn = "relu"), /vision\.ffn must be "mlp" or "swiglu", got "relu"/],
      [(c) => (c.text.eps = 0), /text\.eps must be a number > 0/],
      [(c) => (c.text = null as never), /text is not an object/],
      [(c) => (c.name = 7 as never), /name must be a string, got 7/],
      [(c) => (c.head.prototypes = 1e9), /head\.prototypes must be an integer/],
      [(c) => (c.views.maskRatio = [0.5, 0.1]), /mask ratio range \[0\.5,0\.1\] must be/],
      [(c) => (c.vision.heads = 3), /vision\.width 32 is not divisible by 3 heads/],
      [(c) => (c.vision.imageSize = 18), /image size 18 is not a multiple of patch 4/],
    ];
    for (const [edit, message] of cases) {
      const c = preset("tips-test") as unknown as Editable;
      edit(c);
      expect(() => validateConfig(c as never), String(message)).toThrow(ConfigError);
      expect(() => validateConfig(c as never)).toThrow(message);
    }
    expect(() => validateEncoderConfig({ vision: "x", text: {} })).toThrow(
      /vision is not an object; text\.vocabSize/,
    );
  });
});

describe("configs against tensors and the adapter", () => {
  it("refuses a checkpoint whose config does not match its tensors, before building a model", () => {
    const deeper = withConfig((c) => (c.vision.depth = 3));
    expect(() => readCheckpointWeights(deeper)).toThrow(WeightsError);
    expect(() => readCheckpointWeights(deeper)).toThrow(
      /vision\.depth is 3 in the config but 2 in the tensors/,
    );
    expect(() => readCheckpoint(deeper)).toThrow(CheckpointError);
    const wider = withConfig((c) => {
      c.text.width = 64;
      c.text.mlpHidden = 128;
    });
    expect(() => readCheckpointWeights(wider)).toThrow(
      /text\.width is 64 in the config but 32 in the tensors/,
    );
    const lying = withConfig((c) => (c.vision.depth = 100000));
    expect(() => readCheckpointWeights(lying)).toThrow(/vision\.depth must be an integer from 1 to 128/);
    expect(() => readCheckpoint(lying)).toThrow(CheckpointError);
    const text = withConfig((c) => (c.vision.width = "32"));
    expect(() => readCheckpointWeights(text)).toThrow(ConfigError);
    expect(readCheckpointWeights(trained).vision.depth).toBe(2);
  });

  it("counts the encoders' parameters exactly and refuses encoders larger than a buffer", () => {
    const c = preset("tips-test");
    const { tensors } = decodeSafetensors(trained);
    const encoders = [...tensors].filter(
      ([name]) => !/^(teacher\.|train\.|dino_head|ibot_head|logit_scale)/.test(name),
    );
    const actual = encoders.reduce((n, [, t]) => n + t.data.length, 0);
    expect(visionParameterCount(c.vision) + textParameterCount(c.text)).toBe(actual);
    const limits = { maxBufferSize: 2 ** 20, maxStorageBufferBindingSize: 2 ** 30 };
    expect(() => checkEncoderFits(c.vision, c.text, limits)).not.toThrow();
    const micro = preset("tips-micro");
    expect(() => checkEncoderFits(micro.vision, micro.text, limits)).toThrow(
      /this GPU cannot hold the encoder: its parameters need one buffer of \d+ MiB, and the adapter allows at most 1 MiB/,
    );
  });
});
