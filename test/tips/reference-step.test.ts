// Our model and losses against the PyTorch reference that the `step` benchmark times
// (bench/reference/tips_step.py), on the weights, inputs, loss terms and gradients that
// test/fixtures/reference-step/make.py stored from it. If they differ, the benchmark's ratio
// compares different work.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { valueAndGrad } from "../../src/ops/autograd";
import type { StoredTensor } from "../../src/tensor/safetensors";
import { tidy } from "../../src/tensor/scope";
import { Tensor } from "../../src/tensor/tensor";
import { preset } from "../../src/tips/config";
import { DEFAULT_LOSS, type TipsBatch, tipsLoss } from "../../src/tips/loss";
import { TipsModel } from "../../src/tips/model";
import { readNpz } from "../../src/tips/npz";
import { captionsBatch } from "../../src/tips/text";
import { loadArrays } from "../../src/tips/weights";
import { testGpu } from "../helpers/gpu";

const fixture = readNpz(new Uint8Array(readFileSync("test/fixtures/reference-step/step.npz")));

/** The fixture's arrays whose names start with `prefix.`, without it. */
function part(prefix: string): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  for (const [name, a] of fixture)
    if (name.startsWith(`${prefix}.`)) out.set(name.slice(prefix.length + 1), a);
  return out;
}

function array(name: string): StoredTensor {
  const a = fixture.get(name);
  if (!a) throw new Error(`step.npz has no ${name}: remake it with test/fixtures/reference-step/make.sh`);
  return a;
}

const f32 = (a: StoredTensor) => Float32Array.from(a.data);

describe("the PyTorch step reference (bench/reference/tips_step.py)", () => {
  it("computes the same loss terms and parameter gradients as our model (tips-test)", async () => {
    const gpu = await testGpu();
    const config = preset("tips-test");
    const model = new TipsModel(gpu, config);
    // Every parameter of ours has its reference counterpart, and the other way round.
    expect(loadArrays(model.params, part("student")).ignored).toEqual([]);
    expect(loadArrays(model.teacher.params, part("teacher")).ignored).toEqual([]);

    const masks = array("input.masks");
    const [b, n] = masks.shape;
    const web = array("input.web_ids");
    const length = web.shape[1];
    const batch: TipsBatch = {
      global: Tensor.from(gpu, f32(array("input.global")), array("input.global").shape),
      local: Tensor.from(gpu, f32(array("input.local")), array("input.local").shape),
      masks: Tensor.from(gpu, f32(masks), masks.shape),
      mimWeights: Tensor.from(gpu, f32(array("input.mim_weights")), [b * n]),
      maskedWeights: Tensor.from(gpu, f32(array("input.mim_weights")), [b * n]), // RILS only (off)
      captions: captionsBatch(
        gpu,
        Int32Array.from(web.data),
        Int32Array.from(array("input.syn_ids").data),
        b,
        length,
      ),
    };
    const params = model.params.tensors;
    const out = tidy(() => {
      let terms: Tensor[] = [];
      const { grads } = valueAndGrad(() => {
        const t = tipsLoss(model, batch, DEFAULT_LOSS);
        terms = [t.web!, t.syn!, t.dino!, t.mim!, t.total];
        return t.total;
      }, params);
      return { terms, grads };
    });

    const names = ["web", "syn", "dino", "mim", "total"];
    for (let i = 0; i < names.length; i++) {
      const got = (await out.terms[i].read())[0];
      const want = array(`loss.${names[i]}`).data[0];
      expect(Math.abs(got - want) / Math.abs(want), `${names[i]}: ours ${got}, PyTorch ${want}`).toBeLessThan(
        2e-4,
      );
    }
    const grads = part("grad");
    for (let i = 0; i < params.length; i++) {
      const name = params[i].name!;
      const got = await out.grads[i].read();
      const want = grads.get(name)!.data;
      let scale = 0;
      let err = 0;
      for (let j = 0; j < want.length; j++) {
        scale = Math.max(scale, Math.abs(want[j]));
        err = Math.max(err, Math.abs(got[j] - want[j]));
      }
      expect(err / scale, `gradient of ${name}: worst error ${err}, largest entry ${scale}`).toBeLessThan(
        1e-3,
      );
    }
    model.dispose();
  }, 300_000);
});
