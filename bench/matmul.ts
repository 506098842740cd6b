// matmul at the shapes: forward C = A B and the two products of its backward,
// dA = dC B^T (transB) and dB = A^T dC (transA), each 2 M N K flops.
import type { Gpu } from "../src/gpu/gpu";
import { matmul } from "../src/ops/matmul";
import { Tensor } from "../src/tensor/tensor";
import type { Row } from "./table";
import { timeGpu } from "./timing";

export interface MatmulShape {
  name: string;
  m: number;
  k: number;
  n: number;
}

function filled(gpu: Gpu, rows: number, cols: number): Tensor {
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 7919) % 1000) / 1000 - 0.5;
  return Tensor.from(gpu, data, [rows, cols]);
}

export async function benchMatmul(gpu: Gpu, shapes: MatmulShape[], small: boolean): Promise<Row[]> {
  const rows: Row[] = [];
  for (const s of shapes) {
    const a = filled(gpu, s.m, s.k);
    const b = filled(gpu, s.k, s.n);
    const dc = filled(gpu, s.m, s.n);
    const flops = 2 * s.m * s.n * s.k;
    const iterations = small ? 3 : Math.max(3, Math.min(50, Math.round(2e11 / flops)));
    const cases: [string, () => void][] = [
      ["fwd A B", () => void matmul(a, b)],
      ["bwd dC B^T", () => void matmul(dc, b, { transB: true })],
      ["bwd A^T dC", () => void matmul(a, dc, { transA: true })],
    ];
    for (const [what, fn] of cases) {
      const t = await timeGpu(gpu, fn, iterations);
      rows.push({ group: "matmul", name: `${s.name} ${s.m}x${s.k}x${s.n} ${what}`, ms: t.ms, flops });
    }
    for (const t of [a, b, dc]) t.dispose();
  }
  return rows;
}
