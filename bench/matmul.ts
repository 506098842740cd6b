// matmul at the shapes: forward C = A B and the two products of its backward,
// dA = dC B^T (transB) and dB = A^T dC (transA), each 2 M N K flops. Each product's result is
// checked against float64 on samples before its time counts.
import type { Gpu } from "../src/gpu/gpu";
import { matmul } from "../src/ops/matmul";
import { Tensor } from "../src/tensor/tensor";
import type { Failure, Row } from "./table";
import { timeGpu } from "./timing";
import { checkProduct } from "./verify";

export interface MatmulShape {
  name: string;
  m: number;
  k: number;
  n: number;
}

function filled(rows: number, cols: number): Float32Array {
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 7919) % 1000) / 1000 - 0.5;
  return data;
}

export async function benchMatmul(
  gpu: Gpu,
  shapes: MatmulShape[],
  small: boolean,
  failures: Failure[],
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const s of shapes) {
    const { m, k, n } = s;
    const [ha, hb, hdc] = [filled(m, k), filled(k, n), filled(m, n)];
    const a = Tensor.from(gpu, ha, [m, k]);
    const b = Tensor.from(gpu, hb, [k, n]);
    const dc = Tensor.from(gpu, hdc, [m, n]);
    const flops = 2 * m * n * k;
    const iterations = small ? 3 : Math.max(3, Math.min(50, Math.round(2e11 / flops)));
    // [name, the product, its [rows, cols] and inner size, the entries of its two factors]
    type Factor = (i: number, j: number) => number;
    const cases: [string, () => Tensor, [number, number, number], Factor, Factor][] = [
      ["fwd A B", () => matmul(a, b), [m, n, k], (i, t) => ha[i * k + t], (t, j) => hb[t * n + j]],
      [
        "bwd dC B^T",
        () => matmul(dc, b, { transB: true }),
        [m, k, n],
        (i, t) => hdc[i * n + t],
        (t, j) => hb[j * n + t],
      ],
      [
        "bwd A^T dC",
        () => matmul(a, dc, { transA: true }),
        [k, n, m],
        (i, t) => ha[t * k + i],
        (t, j) => hdc[t * n + j],
      ],
    ];
    for (const [what, product, [resultRows, cols, inner], x, y] of cases) {
      const name = `${s.name} ${m}x${k}x${n} ${what}`;
      const c = product();
      const wrong = checkProduct(await c.read(), resultRows, cols, inner, x, y);
      c.dispose();
      if (wrong) {
        failures.push({ group: "matmul", name, error: wrong });
        console.error(`matmul "${name}": ${wrong}`);
        continue;
      }
      const t = await timeGpu(gpu, () => void product(), iterations);
      rows.push({ group: "matmul", name, ms: t.ms, flops });
    }
    for (const t of [a, b, dc]) t.dispose();
  }
  return rows;
}
