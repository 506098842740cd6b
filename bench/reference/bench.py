"""PyTorch reference for `npm run bench`: the same rows (bench/shapes.json), fp32 with TF32 off,
timed with CUDA events (warm-up, then the median of 5 repetitions), written as JSON
{group: {row name: milliseconds per call}} for `npm run bench -- --reference FILE`.

Usage: python3 bench/reference/bench.py --out ref.json [--small] [--step-configs FILE] [--device cpu]
(FILE: the training-step configurations, from `npm run bench -- --write-step-configs FILE`;
--device cpu rehearses the script on a machine without a GPU: its figures mean nothing)
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F
from tips_step import step_rows

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
DEVICE = "cuda"


def time_ms(fn, iterations, repeats=5):
    fn()
    if DEVICE != "cuda":
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(iterations):
                fn()
            samples.append((time.perf_counter() - start) * 1000 / iterations)
        return statistics.median(samples)
    torch.cuda.synchronize()
    samples = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iterations):
            fn()
        end.record()
        torch.cuda.synchronize()
        samples.append(start.elapsed_time(end) / iterations)
    return statistics.median(samples)


def matmul_rows(shapes, small):
    rows = {}
    for s in shapes:
        m, k, n = s["m"], s["k"], s["n"]
        a = torch.rand(m, k, device=DEVICE) - 0.5
        b = torch.rand(k, n, device=DEVICE) - 0.5
        dc = torch.rand(m, n, device=DEVICE) - 0.5
        flops = 2 * m * n * k
        iterations = 3 if small else max(3, min(50, round(2e11 / flops)))
        base = f'{s["name"]} {m}x{k}x{n}'
        rows[f"{base} fwd A B"] = time_ms(lambda: a @ b, iterations)
        rows[f"{base} bwd dC B^T"] = time_ms(lambda: dc @ b.T, iterations)
        rows[f"{base} bwd A^T dC"] = time_ms(lambda: a.T @ dc, iterations)
    return rows


def attention_rows(shapes, small):
    rows = {}
    for s in shapes:
        shape = (s["batch"], s["heads"], s["seq"], s["dim"])
        q, k, v = (torch.rand(shape, device=DEVICE, requires_grad=True) for _ in range(3))
        flops = 4 * s["batch"] * s["heads"] * s["seq"] ** 2 * s["dim"]
        iterations = 3 if small else max(3, min(50, round(1e11 / flops)))
        label = f'{s["name"]} B={s["batch"]} H={s["heads"]} S={s["seq"]} Dh={s["dim"]}'
        with torch.no_grad():
            rows[f"{label} fwd"] = time_ms(lambda: F.scaled_dot_product_attention(q, k, v), iterations)

        def both():
            out = F.scaled_dot_product_attention(q, k, v)
            out.backward(torch.ones_like(out))

        rows[f"{label} fwd+bwd"] = time_ms(both, iterations)
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--small", action="store_true")
    p.add_argument("--step-configs")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    args = p.parse_args()
    global DEVICE
    DEVICE = args.device
    with open(os.path.join(os.path.dirname(__file__), "..", "shapes.json")) as f:
        shapes = json.load(f)
    size = "small" if args.small else "full"
    result = {
        "matmul": matmul_rows(shapes["matmul"][size], args.small),
        "attention": attention_rows(shapes["attention"][size], args.small),
    }
    if args.step_configs:
        with open(args.step_configs) as f:
            result.update(step_rows(json.load(f), DEVICE, args.small))
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    where = torch.cuda.get_device_name() if DEVICE == "cuda" else "the CPU (a rehearsal: figures mean nothing)"
    print(f"PyTorch {torch.__version__} on {where}: wrote {args.out}")


if __name__ == "__main__":
    main()
