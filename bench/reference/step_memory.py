"""Peak memory of the PyTorch reference training step on the CPU, beside `npm run bench -- counts`.

Runs one configuration of a step-configs file (`npm run bench -- --write-step-configs FILE`) at a
given batch, in this process: two training steps (the first allocates AdamW's moments), and
prints the growth of the resident set from just before the model is built to its peak (Linux's
ru_maxrss), the figure comparable to the engine's pool peak (parameters, gradients, moments,
teacher and activations).

Usage: python3 bench/reference/step_memory.py FILE INDEX BATCH [ACCUMULATE]
"""
import json
import resource
import sys

import torch

from tips_step import step_ms


def resident_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main():
    path, index, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    accumulate = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    with open(path) as f:
        entry = dict(json.load(f)[index], batch=batch, accumulate=accumulate)
    torch.set_num_threads(2)
    before = resident_mib()
    step_ms(entry, "cpu", steps=1, repeats=1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"config": entry["config"]["name"] if "name" in entry["config"] else index,
                      "batch": batch, "accumulate": accumulate, "peakGrowthMiB": round(peak - before, 1)}))


if __name__ == "__main__":
    main()
