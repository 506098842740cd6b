// The engine's side of the PyTorch parity tests (python/tests/test_parity.py), run on SwiftShader
// by scripts/torch-engine.mjs. A tips-test run of 21 steps at batch 4 on the shards SHARDS:
//   start SHARDS DIR      DIR/presets.json (the presets, for python/tips_torch/config.py) and
//                         DIR/start.safetensors (the run saved after its first step)
//   continue SHARDS DIR   from start: DIR/step.safetensors, the next step's batch (crops, masks,
//                         token ids), gradients (grad.<name>) and parameters after the update
//                         (param.<name>), its loss terms in the header; DIR/train.json, the loss
//                         terms of the 20 steps that finish the run; DIR/resumed.json, those of
//                         the run finished from DIR/torch-10.safetensors (PyTorch's checkpoint at
//                         step 11); and DIR/embeddings.safetensors, `tips embed` of
//                         DIR/torchrun.safetensors on the images in DIR/images
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildVocabulary, openSource } from "../../src/cli/data";
import { embed } from "../../src/cli/embed";
import { readInput } from "../../src/cli/files";
import { nodeGpu } from "../../src/cli/gpu";
import type { SourcePosition } from "../../src/data/examples";
import { Vocabulary } from "../../src/data/text/vocab";
import type { Gpu } from "../../src/gpu/gpu";
import { slice } from "../../src/ops/concat";
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

async function start(gpu: Gpu, shards: string, dir: string): Promise<void> {
  writeFileSync(join(dir, "presets.json"), JSON.stringify(PRESETS));
  const config = preset("tips-test");
  const vocab = await buildVocabulary(shards, config.text.vocabSize);
  const trainer = new Trainer(gpu, trainerOptions(config, { steps: STEPS, batch: BATCH }), vocab);
  const source = await openSource(shards, config, 0);
  await trainer.trainStep(await source.next(BATCH));
  writeFileSync(
    join(dir, "start.safetensors"),
    await saveCheckpoint(trainer, source.position(), vocab, { data: shards }),
  );
  trainer.dispose();
  await source.close();
}

/** One step from the checkpoint: its batch as the engine made it, the gradients, the update. */
async function step(gpu: Gpu, shards: string, file: Uint8Array, out: string): Promise<void> {
  const { trainer, position } = restore(gpu, file);
  const o = trainer.options;
  const source = await openSource(shards, o.config, o.seed, { position });
  const examples = await source.next(BATCH);
  const plan = planViews(examples, o.config, new Rng(trainer.rng.state), o.views);
  const batch = makeBatch(gpu, examples, plan, o.config, trainer.tokenizer as Vocabulary);
  const tensors: Record<string, StoredTensor> = {
    "batch.global": await stored(batch.global),
    "batch.local": await stored(batch.local),
    "batch.masks": await stored(batch.masks),
    "batch.mim_weights": await stored(batch.mimWeights),
    "batch.web": await stored(slice(batch.captions.ids, 0, 0, BATCH)),
    "batch.syn": await stored(slice(batch.captions.ids, 0, BATCH, 2 * BATCH)),
  };
  const metrics = await trainer.trainStep(examples);
  for (const [i, p] of trainer.model.params.tensors.entries()) {
    tensors[`grad.${p.name}`] = await stored(trainer.optimizer.grads[i]);
    tensors[`param.${p.name}`] = await stored(p);
  }
  writeFileSync(out, encodeSafetensors(tensors, { loss: JSON.stringify(metrics.loss) }));
  trainer.dispose();
  await source.close();
}

/** The loss terms of every step from the checkpoint to the end of its run. */
async function finish(gpu: Gpu, shards: string, file: Uint8Array, out: string): Promise<void> {
  const { trainer, position } = restore(gpu, file);
  const o = trainer.options;
  const source = await openSource(shards, o.config, o.seed, { position });
  const losses = [];
  while (trainer.step < o.steps) losses.push((await trainer.trainStep(await source.next(o.batch))).loss);
  writeFileSync(out, JSON.stringify(losses));
  trainer.dispose();
  await source.close();
}

const [command, shards, dir] = process.argv.slice(2);
if (!["start", "continue"].includes(command) || !shards || !dir) {
  console.error("usage: node scripts/torch-engine.mjs start|continue SHARDS DIR");
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
const gpu = await nodeGpu();
if (command === "start") await start(gpu, shards, dir);
else {
  const first = await readInput(join(dir, "start.safetensors"), "checkpoint");
  await step(gpu, shards, first, join(dir, "step.safetensors"));
  await finish(gpu, shards, first, join(dir, "train.json"));
  const torch = await readInput(join(dir, "torch-10.safetensors"), "checkpoint");
  await finish(gpu, shards, torch, join(dir, "resumed.json"));
  await embed([
    "--checkpoint",
    join(dir, "torchrun.safetensors"),
    "--text",
    "a red circle",
    "--out",
    join(dir, "embeddings.safetensors"),
    join(dir, "images"),
  ]);
}
process.exit(0);
