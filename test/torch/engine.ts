// The engine's side of the PyTorch parity tests (python/tests/test_parity.py), run on SwiftShader
// by scripts/torch-engine.mjs: `fixtures SHARDS DIR` writes into DIR
//   presets.json       the model presets, to check python/tips_torch/config.py against
//   start.safetensors  a tips-test run of 21 steps (batch 4) saved after its first step
//   step.safetensors   from start: the next step's batch (crops, masks, token ids), gradients
//                      (grad.<name>) and parameters after the update (param.<name>); its loss terms
//                      in the header
//   train.json         from start: the loss terms of the 20 steps that finish the run
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildVocabulary, openSource } from "../../src/cli/data";
import { nodeGpu } from "../../src/cli/gpu";
import type { SourcePosition } from "../../src/data/examples";
import { Vocabulary } from "../../src/data/vocab";
import type { Gpu } from "../../src/gpu/gpu";
import { Rng } from "../../src/tensor/rng";
import { encodeSafetensors, type StoredTensor } from "../../src/tensor/safetensors";
import type { Tensor } from "../../src/tensor/tensor";
import { PRESETS, preset } from "../../src/tips/config";
import { restoreTrainer, saveCheckpoint } from "../../src/train/checkpoint";
import { Trainer, trainerOptions } from "../../src/train/trainer";
import { makeBatch, planViews } from "../../src/train/views";

const STEPS = 21;
const BATCH = 4;

async function stored(t: Tensor): Promise<StoredTensor> {
  const data = await t.read();
  return data instanceof Float32Array
    ? { dtype: "F32", shape: [...t.shape], data }
    : { dtype: "I32", shape: [...t.shape], data: Int32Array.from(data) };
}

function restore(gpu: Gpu, bytes: Uint8Array): { trainer: Trainer; position: SourcePosition | undefined } {
  const restored = restoreTrainer(gpu, bytes, (json) => Vocabulary.fromJSON(json));
  return { trainer: restored.trainer, position: restored.source ?? undefined };
}

async function fixtures(shards: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "presets.json"), JSON.stringify(PRESETS));
  const gpu = await nodeGpu();
  const config = preset("tips-test");
  const vocab = await buildVocabulary(shards, config.text.vocabSize);
  const first = new Trainer(gpu, trainerOptions(config, { steps: STEPS, batch: BATCH }), vocab);
  let source = await openSource(shards, config, 0);
  await first.trainStep(await source.next(BATCH));
  const start = await saveCheckpoint(first, source.position(), vocab, { data: shards });
  writeFileSync(join(dir, "start.safetensors"), start);
  first.dispose();
  await source.close();

  // One step from the checkpoint: its batch as the engine made it, the gradients, the update.
  const { trainer, position } = restore(gpu, start);
  source = await openSource(shards, config, 0, { position });
  const examples = await source.next(BATCH);
  const o = trainer.options;
  const batch = makeBatch(
    gpu,
    examples,
    planViews(examples, config, new Rng(trainer.rng.state), o.views),
    config,
    vocab,
  );
  const tensors: Record<string, StoredTensor> = {
    "batch.global": await stored(batch.global),
    "batch.local": await stored(batch.local),
    "batch.masks": await stored(batch.masks),
    "batch.mim_weights": await stored(batch.mimWeights),
    "batch.web": await stored(batch.web.ids),
    "batch.syn": await stored(batch.syn.ids),
  };
  const metrics = await trainer.trainStep(examples);
  for (const [i, p] of trainer.model.params.tensors.entries()) {
    tensors[`grad.${p.name}`] = await stored(trainer.optimizer.grads[i]);
    tensors[`param.${p.name}`] = await stored(p);
  }
  writeFileSync(
    join(dir, "step.safetensors"),
    encodeSafetensors(tensors, { loss: JSON.stringify(metrics.loss), gradNorm: String(metrics.gradNorm) }),
  );
  trainer.dispose();
  await source.close();

  // The rest of the run from the checkpoint.
  const { trainer: run } = restore(gpu, start);
  source = await openSource(shards, config, 0, { position });
  const losses = [];
  while (run.step < STEPS) losses.push((await run.trainStep(await source.next(BATCH))).loss);
  writeFileSync(join(dir, "train.json"), JSON.stringify(losses));
  run.dispose();
  await source.close();
}

const [command, shards, dir] = process.argv.slice(2);
if (command !== "fixtures" || !shards || !dir) {
  console.error("usage: node scripts/torch-engine.mjs fixtures SHARDS DIR");
  process.exit(2);
}
await fixtures(shards, dir);
process.exit(0);
