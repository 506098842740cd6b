// The peers benchmark's workloads, each written once per library in that library's own idiom
// (jax-js under jit, as its docs advise; tfjs eagerly, its only mode). A contender enqueues one
// call with run() and waits for the GPU with sync(); check() runs once and compares the result
// with float64, and its time counts only if that passes.
import type { Array as JaxArray } from "@jax-js/jax";
import type { Tensor as TfTensor } from "@tensorflow/tfjs-core";
import type { Gpu } from "../src/gpu/gpu";
import { valueAndGrad } from "../src/ops/autograd";
import { mul, sub } from "../src/ops/elementwise";
import { accumulate, fill } from "../src/ops/elementwise_kernels";
import { matmul } from "../src/ops/matmul";
import { mlp } from "../src/ops/mlp";
import { mean } from "../src/ops/reduce";
import { ParameterStore } from "../src/tensor/params";
import { tidy } from "../src/tensor/scope";
import { Tensor } from "../src/tensor/tensor";
import { attentionWithGrads } from "./attention";
import type { Peers } from "./peers-libraries";
import {
  checkMlpStep,
  hostValues,
  MLP_PARAMS,
  type MlpShape,
  mlpHost,
  mlpStepReference,
} from "./peers-reference";
import type { VitCase } from "./peers-vit";
import { checkAttention, checkProduct } from "./verify";

export interface Contender {
  check(): Promise<string | null>;
  run(): void;
  sync(): Promise<void>;
  dispose(): void;
}

export interface Workload {
  name: string;
  /** What the row runs, for the table's notes. */
  what: string;
  ours: Contender;
  jaxjs: Contender;
  tfjs: Contender;
}

export interface MatmulCase {
  name: string;
  m: number;
  k: number;
  n: number;
  /** The left operand is stored [K, M] (a weight gradient X^T dY, K = tokens). */
  transA?: boolean;
}

export interface AttentionCase {
  name: string;
  batch: number;
  heads: number;
  seq: number;
  dim: number;
}

export interface PeerShapes {
  matmul: MatmulCase[];
  attention: AttentionCase;
  mlp: MlpShape & { name: string };
  vit: VitCase;
}

export const MLP_LR = 0.1;

/** Our side of a contender: results of run() are released by tidy(), sync() drains the queue. */
export function oursContender(
  gpu: Gpu,
  run: () => void,
  check: () => Promise<string | null>,
  inputs: Tensor[],
): Contender {
  return {
    check,
    run: () => tidy(run),
    sync: () => gpu.sync(),
    dispose: () => {
      for (const t of inputs) t.dispose();
    },
  };
}

/** jax-js: each run's outputs are kept until sync() has waited for them, then released. */
export function jaxContender(
  peers: Peers,
  run: () => JaxArray[],
  check: () => Promise<string | null>,
  inputs: JaxArray[],
) {
  let pending: JaxArray[] = [];
  return {
    check,
    run: () => void pending.push(...run()),
    sync: async () => {
      await peers.jax.blockUntilReady(pending); // submits them; a zero-byte read does not wait for the GPU
      await peers.jax.getWebGPUDevice().queue.onSubmittedWorkDone();
      for (const a of pending) a.dispose();
      pending = [];
    },
    dispose: () => {
      for (const a of inputs) a.dispose();
    },
  };
}

/** tfjs: outputs kept until sync() has submitted tfjs's batched commands and the queue is drained. */
export function tfContender(
  gpu: Gpu,
  peers: Peers,
  run: () => TfTensor[],
  check: () => Promise<string | null>,
  inputs: TfTensor[],
): Contender {
  let pending: TfTensor[] = [];
  return {
    check,
    run: () => void pending.push(...run()),
    sync: async () => {
      peers.tfSubmit();
      await gpu.device.queue.onSubmittedWorkDone();
      for (const t of pending) t.dispose();
      pending = [];
    },
    dispose: () => {
      for (const t of inputs) t.dispose();
    },
  };
}

export function matmulWorkload(gpu: Gpu, peers: Peers, c: MatmulCase): Workload {
  const { m, k, n, transA = false } = c;
  const { jax, tf } = peers;
  const np = jax.numpy;
  const ha = hostValues(m * k, 1);
  const hb = hostValues(k * n, 2);
  const aShape = transA ? [k, m] : [m, k];
  const check = (got: ArrayLike<number>) =>
    checkProduct(
      got,
      m,
      n,
      k,
      (i, t) => (transA ? ha[t * m + i] : ha[i * k + t]),
      (t, j) => hb[t * n + j],
    );

  const a = Tensor.from(gpu, ha, aShape);
  const b = Tensor.from(gpu, hb, [k, n]);
  const ours = oursContender(
    gpu,
    () => void matmul(a, b, { transA }),
    async () => {
      const out = matmul(a, b, { transA });
      const got = await out.read();
      out.dispose();
      return check(got);
    },
    [a, b],
  );

  const ja = np.array(ha).reshape(aShape);
  const jb = np.array(hb).reshape([k, n]);
  const product = jax.jit((x: JaxArray, y: JaxArray) => np.matmul(transA ? x.transpose() : x, y));
  const jaxjs = jaxContender(
    peers,
    () => [product(ja.ref, jb.ref)],
    async () => check(await product(ja.ref, jb.ref).data()),
    [ja, jb],
  );

  const ta = tf.tensor(ha, aShape);
  const tb = tf.tensor(hb, [k, n]);
  const tfjs = tfContender(
    gpu,
    peers,
    () => [tf.matMul(ta, tb, transA, false)],
    async () => {
      const out = tf.matMul(ta, tb, transA, false);
      const got = await out.data();
      out.dispose();
      return check(got);
    },
    [ta, tb],
  );
  const what = transA ? `A^T B, A stored [${k}, ${m}]` : "A B";
  return { name: c.name, what: `${m}x${k}x${n} ${what}`, ours, jaxjs, tfjs };
}

export function attentionWorkload(gpu: Gpu, peers: Peers, s: AttentionCase): Workload {
  const { jax, tf } = peers;
  const np = jax.numpy;
  const shape = [s.batch, s.heads, s.seq, s.dim];
  const size = s.batch * s.heads * s.seq * s.dim;
  const host = { q: hostValues(size, 1), k: hostValues(size, 2), v: hostValues(size, 3) };
  const check = (got: ArrayLike<number>[]) => checkAttention(host, s, got);

  const [q, k, v] = [host.q, host.k, host.v].map((h) => Tensor.from(gpu, h, shape));
  const both = () => attentionWithGrads(q, k, v);
  const ours = oursContender(
    gpu,
    () => void both(),
    async () => {
      const results = tidy(both);
      const got = await Promise.all(results.map((t) => t.read()));
      for (const t of results) t.dispose();
      return check(got);
    },
    [q, k, v],
  );

  // jax-js's nn.dotProductAttention (einsum and softmax) needs Node 22's iterator helpers, so the
  // same composition is written out: the gradient of sum(O) (dO = 1, as ours), O as aux.
  const [jq, jk, jv] = [host.q, host.k, host.v].map((h) => np.array(h).reshape(shape));
  type Qkv = { q: JaxArray; k: JaxArray; v: JaxArray };
  const forward = (x: Qkv): [JaxArray, JaxArray] => {
    const scores = np.matmul(x.q, np.swapaxes(x.k, 2, 3)).mul(1 / Math.sqrt(s.dim));
    const o = np.matmul(jax.nn.softmax(scores, -1), x.v);
    return [np.sum(o.ref), o];
  };
  const step = jax.jit((x: Qkv) => {
    const [[, o], g] = jax.valueAndGrad(forward, { hasAux: true })(x);
    return [o, g.q, g.k, g.v];
  });
  const jaxArgs = () => ({ q: jq.ref, k: jk.ref, v: jv.ref });
  const jaxjs = jaxContender(
    peers,
    () => step(jaxArgs()),
    async () => check(await Promise.all(step(jaxArgs()).map((a) => a.data()))),
    [jq, jk, jv],
  );

  // tfjs has no fused attention: softmax(Q K^T / sqrt(Dh)) V from its ops, differentiated by tf.grads.
  const [tq, tk, tv] = [host.q, host.k, host.v].map((h) => tf.tensor(h, shape));
  const ones = tf.ones(shape);
  const composed = (x: TfTensor, y: TfTensor, z: TfTensor) =>
    tf.matMul(tf.softmax(tf.mul(tf.matMul(x, y, false, true), 1 / Math.sqrt(s.dim))), z);
  const tfStep = () => {
    const { value, grads } = tf.valueAndGrads(composed)([tq, tk, tv], ones);
    return [value, ...grads];
  };
  const tfjs = tfContender(
    gpu,
    peers,
    tfStep,
    async () => {
      const results = tfStep();
      const got = await Promise.all(results.map((t) => t.data()));
      for (const t of results) t.dispose();
      return check(got);
    },
    [tq, tk, tv, ones],
  );
  const what = `B=${s.batch} H=${s.heads} S=${s.seq} Dh=${s.dim}, O and dQ, dK, dV for dO = 1: ours the fused kernels; jax-js and tfjs matmul, softmax, matmul differentiated by the library (jax-js under jit)`;
  return { name: s.name, what, ours, jaxjs, tfjs };
}

/** A [rows, cols] matrix stored row-major, transposed to [cols, rows]. */
function transposed(m: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = m[i * cols + j];
  return out;
}

/** Exact GELU in tfjs, which has none: z/2 (1 + erf(z / sqrt 2)). */
export function tfGelu(tf: Peers["tf"], z: TfTensor): TfTensor {
  return tf.mul(tf.mul(z, 0.5), tf.add(tf.erf(tf.mul(z, Math.SQRT1_2)), 1));
}

export function mlpWorkload(gpu: Gpu, peers: Peers, s: PeerShapes["mlp"]): Workload {
  const { jax, tf } = peers;
  const np = jax.numpy;
  const { tokens: T, width: D, hidden: H } = s;
  const host = mlpHost(s);
  const shapes = { w1: [D, H], b1: [H], w2: [H, D], b2: [D] };
  let reference: ReturnType<typeof mlpStepReference> | null = null;
  const check = (loss: number, after: Record<(typeof MLP_PARAMS)[number], ArrayLike<number>>) => {
    reference ??= mlpStepReference(s, host, MLP_LR);
    return checkMlpStep(host, reference, loss, after);
  };

  // Ours as the engine trains: the MLP as one node (PyTorch layout, W [out, in]: the GELU's
  // derivative inside the hidden gradient's product, bias gradients summed by the weight
  // gradients' products), parameters in one slab and gradients added into a mirror of it, SGD as
  // one pass over the slab: p += -lr g.
  const x = Tensor.from(gpu, host.x, [T, D]);
  const target = Tensor.from(gpu, host.target, [T, D]);
  const store = new ParameterStore(gpu);
  const w1 = store.create("w1", [H, D], transposed(host.w1, D, H));
  const b1 = store.create("b1", [H], host.b1);
  const w2 = store.create("w2", [D, H], transposed(host.w2, H, D));
  const b2 = store.create("b2", [D], host.b2);
  const params = [w1, b1, w2, b2];
  const grads = store.mirror();
  const oursStep = () => {
    fill(grads.slab.flat(), 0);
    const { value } = valueAndGrad(
      () => {
        const d = sub(mlp(x, { w1, b1, w2, b2 }, "gelu"), target);
        return mean(mul(d, d));
      },
      params,
      undefined,
      grads.views,
    );
    accumulate(store.slab.flat(), grads.slab.flat(), -MLP_LR);
    return value;
  };
  const ours = oursContender(
    gpu,
    () => void oursStep(),
    async () => {
      const loss = tidy(oursStep);
      const [got, ...after] = await Promise.all([loss, ...params].map((t) => t.read()));
      loss.dispose();
      const [w1After, w2After] = [transposed(after[0], H, D), transposed(after[2], D, H)];
      return check(got[0], { w1: w1After, b1: after[1], w2: w2After, b2: after[3] });
    },
    [x, target],
  );
  const oursDispose = ours.dispose;
  ours.dispose = () => {
    oursDispose();
    store.dispose();
    grads.slab.destroy();
  };

  // jax-js: valueAndGrad of the loss and the update in one jit; the step returns new parameters.
  type Params = { w1: JaxArray; b1: JaxArray; w2: JaxArray; b2: JaxArray };
  const jx = np.array(host.x).reshape([T, D]);
  const jt = np.array(host.target).reshape([T, D]);
  let jp: Params = {
    w1: np.array(host.w1).reshape(shapes.w1),
    b1: np.array(host.b1),
    w2: np.array(host.w2).reshape(shapes.w2),
    b2: np.array(host.b2),
  };
  const loss = (p: Params, xs: JaxArray, ts: JaxArray) => {
    const hidden = jax.nn.gelu(np.matmul(xs, p.w1).add(p.b1), { approximate: false });
    return np.mean(np.square(np.matmul(hidden, p.w2).add(p.b2).sub(ts)));
  };
  const jaxStep = jax.jit((p: Params, xs: JaxArray, ts: JaxArray): [JaxArray, Params] => {
    const [value, g] = jax.valueAndGrad(loss)(jax.tree.ref(p), xs, ts);
    const update = (name: keyof Params) => p[name].sub(g[name].mul(MLP_LR));
    return [value, { w1: update("w1"), b1: update("b1"), w2: update("w2"), b2: update("b2") }];
  });
  const jaxRun = () => {
    const [value, next] = jaxStep(jp, jx.ref, jt.ref);
    jp = next;
    return value;
  };
  const jaxjs: Contender = {
    ...jaxContender(
      peers,
      () => [jaxRun()],
      async () => "unused",
      [jx, jt],
    ),
    check: async () => {
      const value = await jaxRun().data();
      const after = await Promise.all(MLP_PARAMS.map((name) => jp[name].ref.data()));
      return check(value[0], { w1: after[0], b1: after[1], w2: after[2], b2: after[3] });
    },
    dispose: () => {
      for (const a of [jx, jt, ...Object.values(jp)]) a.dispose();
    },
  };
  // jaxContender's sync waits on the losses; the parameters are the step's other outputs.
  const jaxSync = jaxjs.sync;
  jaxjs.sync = async () => {
    await peers.jax.blockUntilReady(jp);
    await jaxSync();
  };

  // tfjs: variables, tf.train.sgd's minimize (which differentiates the loss), GELU from tf.erf.
  const tx = tf.tensor(host.x, [T, D]);
  const tt = tf.tensor(host.target, [T, D]);
  const vars = MLP_PARAMS.map((name) => tf.variable(tf.tensor(host[name], shapes[name])));
  const optimizer = tf.train.sgd(MLP_LR);
  const tfLoss = () => {
    const z = tf.add(tf.matMul(tx, vars[0]), vars[1]);
    const hidden = tfGelu(tf, z);
    const d = tf.sub(tf.add(tf.matMul(hidden, vars[2]), vars[3]), tt);
    return tf.mean(tf.square(d)) as ReturnType<typeof tf.scalar>;
  };
  const tfStep = () => {
    const value = optimizer.minimize(tfLoss, true);
    if (!value) throw new Error("tfjs: minimize returned no loss");
    return value;
  };
  const tfjs = tfContender(
    gpu,
    peers,
    () => [tfStep()],
    async () => {
      const value = tfStep();
      const got = await value.data();
      value.dispose();
      const after = await Promise.all(vars.map((v) => v.data()));
      return check(got[0], { w1: after[0], b1: after[1], w2: after[2], b2: after[3] });
    },
    [tx, tt, ...vars],
  );
  const what = `${T} tokens, ${D} -> ${H} -> ${D}, exact GELU, MSE, SGD lr ${MLP_LR}: forward, backward and update per step`;
  return { name: s.name, what, ours, jaxjs, tfjs };
}
