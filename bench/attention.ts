// Fused attention at ViT shapes: forward, and forward + backward (dQ, dK, dV). Flops count the
// two matrix products of the forward (4 B H S^2 Dh) and 2.5x that for forward + backward, as
// FlashAttention reports them. The output and gradients are checked against float64 on two
// (batch, head) slices before the times count.
import type { Gpu } from "../src/gpu/gpu";
import { attention } from "../src/ops/attention";
import { valueAndGrad } from "../src/ops/autograd";
import { full } from "../src/ops/elementwise_kernels";
import { tidy } from "../src/tensor/scope";
import { Tensor } from "../src/tensor/tensor";
import type { Failure, Row } from "./table";
import { timeGpu } from "./timing";
import { checkAttention } from "./verify";

/** Attention's output and the gradients of q, k and v for an upstream gradient of ones. */
export function attentionWithGrads(q: Tensor, k: Tensor, v: Tensor): Tensor[] {
  const { value, grads } = valueAndGrad(
    () => attention(q, k, v),
    [q, k, v],
    (o) => full(o, o.shape, 1),
  );
  return [value, ...grads];
}

export interface AttentionShape {
  name: string;
  batch: number;
  heads: number;
  seq: number;
  dim: number;
}

export async function benchAttention(
  gpu: Gpu,
  shapes: AttentionShape[],
  small: boolean,
  failures: Failure[],
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const s of shapes) {
    const shape = [s.batch, s.heads, s.seq, s.dim];
    const n = s.batch * s.heads * s.seq * s.dim;
    const host = (seed: number) =>
      Float32Array.from({ length: n }, (_, i) => (((i + seed) * 7919) % 1000) / 1000 - 0.5);
    const inputs = { q: host(1), k: host(2), v: host(3) };
    const [q, k, v] = [inputs.q, inputs.k, inputs.v].map((h) => Tensor.from(gpu, h, shape));
    const flops = 4 * s.batch * s.heads * s.seq * s.seq * s.dim;
    const iterations = small ? 3 : Math.max(3, Math.min(50, Math.round(1e11 / flops)));
    const label = `${s.name} B=${s.batch} H=${s.heads} S=${s.seq} Dh=${s.dim}`;
    const both = () => attentionWithGrads(q, k, v);
    const results = tidy(both);
    const wrong = checkAttention(inputs, s, await Promise.all(results.map((t) => t.read())));
    for (const t of results) t.dispose();
    if (wrong) {
      failures.push({ group: "attention", name: label, error: wrong });
      console.error(`attention "${label}": ${wrong}`);
    } else {
      const fwd = await timeGpu(gpu, () => void attention(q, k, v), iterations);
      rows.push({ group: "attention", name: `${label} fwd`, ms: fwd.ms, flops });
      const t = await timeGpu(gpu, () => void both(), iterations);
      rows.push({ group: "attention", name: `${label} fwd+bwd`, ms: t.ms, flops: 2.5 * flops });
    }
    for (const t of [q, k, v]) t.dispose();
  }
  return rows;
}
