// Fused attention at ViT shapes: forward, and forward + backward (dQ, dK, dV). Flops count the
// two matrix products of the forward (4 B H S^2 Dh) and 2.5x that for forward + backward, as
// FlashAttention reports them.
import type { Gpu } from "../src/gpu/gpu";
import { attention } from "../src/ops/attention";
import { full } from "../src/ops/elementwise";
import { valueAndGrad } from "../src/tensor/autograd";
import { Tensor } from "../src/tensor/tensor";
import type { Row } from "./table";
import { timeGpu } from "./timing";

export interface AttentionShape {
  name: string;
  batch: number;
  heads: number;
  seq: number;
  dim: number;
}

export async function benchAttention(gpu: Gpu, shapes: AttentionShape[], small: boolean): Promise<Row[]> {
  const rows: Row[] = [];
  for (const s of shapes) {
    const shape = [s.batch, s.heads, s.seq, s.dim];
    const n = s.batch * s.heads * s.seq * s.dim;
    const make = (seed: number) =>
      Tensor.from(
        gpu,
        Float32Array.from({ length: n }, (_, i) => (((i + seed) * 7919) % 1000) / 1000 - 0.5),
        shape,
      );
    const [q, k, v] = [make(1), make(2), make(3)];
    const flops = 4 * s.batch * s.heads * s.seq * s.seq * s.dim;
    const iterations = small ? 3 : Math.max(3, Math.min(50, Math.round(1e11 / flops)));
    const label = `${s.name} B=${s.batch} H=${s.heads} S=${s.seq} Dh=${s.dim}`;
    const fwd = await timeGpu(gpu, () => void attention(q, k, v), iterations);
    rows.push({ group: "attention", name: `${label} fwd`, ms: fwd.ms, flops });
    const both = await timeGpu(
      gpu,
      () =>
        void valueAndGrad(
          () => attention(q, k, v),
          [q, k, v],
          (o) => full(o, o.shape, 1),
        ),
      iterations,
    );
    rows.push({ group: "attention", name: `${label} fwd+bwd`, ms: both.ms, flops: 2.5 * flops });
    for (const t of [q, k, v]) t.dispose();
  }
  return rows;
}
