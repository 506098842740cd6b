// The peers benchmark's ViT forward: our VisionEncoder (src/tips/vision.ts) at one image, eval,
// no tape, and the same model written in jax-js (one jit) and tfjs (eager, tf.tidy) with our
// weights read back from the GPU, so that one set of weights runs in all three and in float64.
import type { Array as JaxArray } from "@jax-js/jax";
import type { Tensor as TfTensor } from "@tensorflow/tfjs-core";
import type { Gpu } from "../src/gpu/gpu";
import { ParameterStore } from "../src/tensor/params";
import { Rng } from "../src/tensor/rng";
import { tidy } from "../src/tensor/scope";
import { noGrad } from "../src/tensor/tape";
import { Tensor } from "../src/tensor/tensor";
import type { VisionConfig } from "../src/tips/config";
import { VisionEncoder } from "../src/tips/vision";
import type { Peers } from "./peers-libraries";
import { hostValues } from "./peers-reference";
import {
  checkTokens,
  type VitBlockHost,
  type VitHost,
  vitForwardReference,
  vitHostOf,
} from "./peers-vit-reference";
import {
  type Contender,
  jaxContender,
  oursContender,
  tfContender,
  tfGelu,
  type Workload,
} from "./peers-workloads";

export interface VitCase {
  name: string;
  /** imageSize a multiple of patchSize, posGrid = imageSize / patchSize (no position resize). */
  vision: VisionConfig;
}

/**
 * Values that replace a parameter's initial ones so that every part of the block shows in the
 * result: LayerScale gammas in [0.1, 1) (not DINOv2's 1e-5, which would leave the blocks out),
 * norm weights and biases, linear biases and the CLS and register tokens away from 1, 0 and 1e-6.
 * null keeps the Rng's values (linear weights, patch embedding, positions).
 */
function benchValues(name: string, size: number, seed: number): Float32Array | null {
  if (/ls[12]\.gamma$/.test(name)) return hostValues(size, seed, 0.45).map((v) => v + 0.55);
  if (/norm\d?\.weight$/.test(name)) return hostValues(size, seed, 0.2).map((v) => v + 1);
  if (/\.bias$/.test(name) && !/^patch_embed/.test(name)) return hostValues(size, seed, 0.1);
  if (name === "cls_token" || name === "register_tokens") return hostValues(size, seed, 0.5);
  return null;
}

/** [rows, cols] row-major to [cols, rows]: our [out, in] weights in the peers' [in, out] layout. */
function transposed(m: Float32Array, rows: number): Float32Array {
  const cols = m.length / rows;
  const out = new Float32Array(m.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = m[i * cols + j];
  return out;
}

/** The peers' parameter shapes ([in, out] weights) and values, from the host copy of ours. */
function peerLayout(c: VisionConfig, h: VitHost) {
  const { width: d, patchSize: p, mlpHidden: hidden } = c;
  const n = (c.imageSize / p) ** 2;
  const vector = (v: Float32Array): [Float32Array, number[]] => [v, [v.length]];
  const weight = (w: Float32Array, out: number): [Float32Array, number[]] => [
    transposed(w, out),
    [w.length / out, out],
  ];
  const block = (b: VitBlockHost): Record<keyof VitBlockHost, [Float32Array, number[]]> => ({
    norm1w: vector(b.norm1w),
    norm1b: vector(b.norm1b),
    qkvW: weight(b.qkvW, 3 * d),
    qkvB: vector(b.qkvB),
    projW: weight(b.projW, d),
    projB: vector(b.projB),
    ls1: vector(b.ls1),
    norm2w: vector(b.norm2w),
    norm2b: vector(b.norm2b),
    fc1W: weight(b.fc1W, hidden),
    fc1B: vector(b.fc1B),
    fc2W: weight(b.fc2W, d),
    fc2B: vector(b.fc2B),
    ls2: vector(b.ls2),
  });
  return {
    patchW: weight(h.patchW, d),
    patchB: vector(h.patchB),
    cls: [h.cls, [1, d]] as [Float32Array, number[]],
    register: [h.register, [1, d]] as [Float32Array, number[]],
    pos: [h.pos, [1 + n, d]] as [Float32Array, number[]],
    normW: vector(h.normW),
    normB: vector(h.normB),
    blocks: h.blocks.map(block),
  };
}

type PeerLayout = ReturnType<typeof peerLayout>;
type Params<A> = { [K in Exclude<keyof PeerLayout, "blocks">]: A } & {
  blocks: Record<keyof VitBlockHost, A>[];
};

function mapParams<A>(l: PeerLayout, leaf: (v: [Float32Array, number[]]) => A): Params<A> {
  const map = (o: Record<string, [Float32Array, number[]]>) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, leaf(v)]));
  const { blocks, ...top } = l;
  return { ...map(top), blocks: blocks.map(map) } as Params<A>;
}

export async function vitWorkload(gpu: Gpu, peers: Peers, s: VitCase): Promise<Workload> {
  const { jax, tf } = peers;
  const np = jax.numpy;
  const c = s.vision;
  const { imageSize: size, patchSize: p, width: d, heads } = c;
  const g = size / p;
  const n = g * g;
  const tokens = 2 + n;
  const dh = d / heads;
  const imageShape = [1, 3, size, size];
  const image = hostValues(3 * size * size, 1).map((v) => v + 0.5); // in [0, 1)

  // Ours: the encoder as inference runs it, its parameters then read back for the others.
  const store = new ParameterStore(gpu);
  const encoder = new VisionEncoder(gpu, store, c, new Rng(1));
  for (const [seed, name] of store.names.entries()) {
    const t = store.get(name);
    const values = benchValues(name, t.size, seed);
    if (values) store.load(name, t.shape, values);
  }
  const stored = new Map<string, Float32Array>();
  for (const name of store.names) stored.set(name, (await store.get(name).read()) as Float32Array);
  const host = vitHostOf(c, image, (name) => stored.get(name) as Float32Array);
  let reference: Float64Array | null = null;
  const check = (got: ArrayLike<number>) => {
    reference ??= vitForwardReference(c, host);
    return checkTokens(reference, got);
  };

  const oursImage = Tensor.from(gpu, image, imageShape);
  const oursForward = () =>
    noGrad(() => {
      const out = encoder.forward(oursImage);
      return [out.cls1, out.cls2, out.patches];
    });
  const ours = oursContender(
    gpu,
    () => void oursForward(),
    async () => {
      const outs = tidy(oursForward);
      const parts = await Promise.all(outs.map((t) => t.read()));
      for (const t of outs) t.dispose();
      const got = new Float32Array(tokens * d);
      got.set(parts[0], 0);
      got.set(parts[1], d);
      got.set(parts[2], 2 * d);
      return check(got);
    },
    [oursImage],
  );
  const oursDispose = ours.dispose;
  ours.dispose = () => {
    oursDispose();
    store.dispose();
  };

  const layout = peerLayout(c, host);

  // jax-js: one jit of the whole forward; patchify by reshape and transpose.
  type JaxParams = Params<JaxArray>;
  const jaxNorm = (x: JaxArray, w: JaxArray, b: JaxArray) =>
    jax.nn.standardize(x, -1, { epsilon: c.eps }).mul(w).add(b);
  const jaxForward = jax.jit((img: JaxArray, q: JaxParams) => {
    const patches = img
      .reshape([3, g, p, g, p])
      .transpose([1, 3, 0, 2, 4])
      .reshape([n, 3 * p * p]);
    const embedded = np
      .matmul(patches, q.patchW)
      .add(q.patchB)
      .add(q.pos.ref.slice([1, 1 + n]));
    let x = np.concatenate([q.cls.add(q.pos.slice([0, 1])), q.register, embedded], 0);
    for (const b of q.blocks) {
      const qkv = np
        .matmul(jaxNorm(x.ref, b.norm1w, b.norm1b), b.qkvW)
        .add(b.qkvB)
        .reshape([tokens, 3, heads, dh])
        .transpose([1, 2, 0, 3]);
      const [qh, kh, vh] = [qkv.ref.slice(0), qkv.ref.slice(1), qkv.slice(2)];
      const weights = jax.nn.softmax(np.matmul(qh, np.swapaxes(kh, 1, 2)).mul(1 / Math.sqrt(dh)), -1);
      const attended = np.matmul(weights, vh).transpose([1, 0, 2]).reshape([tokens, d]);
      const h = x.add(np.matmul(attended, b.projW).add(b.projB).mul(b.ls1));
      const hidden = jax.nn.gelu(np.matmul(jaxNorm(h.ref, b.norm2w, b.norm2b), b.fc1W).add(b.fc1B), {
        approximate: false,
      });
      x = h.add(np.matmul(hidden, b.fc2W).add(b.fc2B).mul(b.ls2));
    }
    return jaxNorm(x, q.normW, q.normB).reshape([1, tokens, d]);
  });
  const jaxImage = np.array(image).reshape(imageShape);
  const jaxParams = mapParams(layout, ([v, shape]) => np.array(v).reshape(shape));
  const jaxRun = () => jaxForward(jaxImage.ref, jax.tree.ref(jaxParams));
  const jaxjs: Contender = jaxContender(
    peers,
    () => [jaxRun()],
    async () => check(await jaxRun().data()),
    [jaxImage, ...jax.tree.leaves(jaxParams)],
  );

  // tfjs: the same forward eagerly inside tf.tidy; LayerNorm from tf.moments, GELU from tf.erf.
  const tfNorm = (x: TfTensor, w: TfTensor, b: TfTensor) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, c.eps))), w), b);
  };
  const tfImage = tf.tensor(image, imageShape);
  const tfParams = mapParams(layout, ([v, shape]) => tf.tensor(v, shape));
  const tfForward = () =>
    tf.tidy(() => {
      const q = tfParams;
      const patches = tf.reshape(tf.transpose(tf.reshape(tfImage, [3, g, p, g, p]), [1, 3, 0, 2, 4]), [
        n,
        3 * p * p,
      ]);
      const embedded = tf.add(
        tf.add(tf.matMul(patches, q.patchW), q.patchB),
        tf.slice(q.pos, [1, 0], [n, d]),
      );
      let x = tf.concat([tf.add(q.cls, tf.slice(q.pos, [0, 0], [1, d])), q.register, embedded], 0);
      for (const b of q.blocks) {
        const qkv = tf.transpose(
          tf.reshape(tf.add(tf.matMul(tfNorm(x, b.norm1w, b.norm1b), b.qkvW), b.qkvB), [
            tokens,
            3,
            heads,
            dh,
          ]),
          [1, 2, 0, 3],
        );
        const [qh, kh, vh] = tf.split(qkv, 3, 0).map((t) => tf.squeeze(t, [0]));
        const weights = tf.softmax(tf.mul(tf.matMul(qh, kh, false, true), 1 / Math.sqrt(dh)));
        const attended = tf.reshape(tf.transpose(tf.matMul(weights, vh), [1, 0, 2]), [tokens, d]);
        const h = tf.add(x, tf.mul(tf.add(tf.matMul(attended, b.projW), b.projB), b.ls1));
        const z = tf.add(tf.matMul(tfNorm(h, b.norm2w, b.norm2b), b.fc1W), b.fc1B);
        const hidden = tfGelu(tf, z);
        x = tf.add(h, tf.mul(tf.add(tf.matMul(hidden, b.fc2W), b.fc2B), b.ls2));
      }
      return tf.reshape(tfNorm(x, q.normW, q.normB), [1, tokens, d]);
    });
  const { blocks: tfBlocks, ...tfTop } = tfParams;
  const tfjs = tfContender(
    gpu,
    peers,
    () => [tfForward()],
    async () => {
      const out = tfForward();
      const got = await out.data();
      out.dispose();
      return check(got);
    },
    [tfImage, ...Object.values(tfTop), ...tfBlocks.flatMap((b) => Object.values(b))],
  );

  const what = `${size} px, patch ${p} (${n} patches + CLS + register), ${c.depth} pre-LN blocks of width ${d}, ${heads} heads, MLP ${c.mlpHidden}, exact GELU, LayerScale, final norm: the ${tokens} final tokens. Ours the VisionEncoder (fused attention, mlp node, deferred norms); jax-js the model in one jit; tfjs eager ops in tf.tidy; one set of weights for all`;
  return { name: s.name, what, ours, jaxjs, tfjs };
}
