"""PyTorch eager fp32 reference of one TIPS training step, for the `step` rows of `npm run bench`:
the model and losses of python/tips_torch (the PyTorch mirror of src/tips and src/train: CLIP on
both CLS tokens of the unmasked global crop, iBOT on the masked one, DINO on the local crops,
Sinkhorn-Knopp teacher targets), AdamW with global-norm clipping at 3, the logit scale clamped at
100 and the EMA teacher. Inputs are random tensors already on the GPU at crop size; ours also
uploads the images and crops them.

Used by bench.py (--step-configs FILE, written by `npm run bench -- --write-step-configs FILE`).
"""
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from tips_torch.checkpoint import named  # noqa: E402
from tips_torch.config import trainer_options  # noqa: E402
from tips_torch.losses import tips_loss  # noqa: E402
from tips_torch.model import MAX_LOG_LOGIT_SCALE, Tips, decays  # noqa: E402


def make_batch(c, b, device, generator):
    v, t = c["vision"], c["text"]
    s, ls, m = v["imageSize"], c["views"]["localSize"], c["views"]["localCrops"]
    n = (s // v["patchSize"]) ** 2
    masks = (torch.rand(b, n, 1, generator=generator) < 0.3).float()
    counts = masks.sum((1, 2)).clamp(min=1)
    weights = (masks[..., 0] / counts[:, None] / b).reshape(-1)

    def text():
        lengths = torch.randint(1, t["maxLength"] + 1, (b,), generator=generator)
        key_mask = torch.arange(t["maxLength"])[None] < lengths[:, None]
        return (torch.randint(1, t["vocabSize"], (b, t["maxLength"]), generator=generator) * key_mask).to(device)

    return {
        "global": torch.rand(b, 3, s, s, generator=generator).to(device),
        "local": torch.rand(m * b, 3, ls, ls, generator=generator).to(device),
        "masks": masks.to(device),
        "mim_weights": weights.to(device),
        "web": text(),
        "syn": text(),
    }


def step_ms(entry, device, steps, repeats=3):
    """Median milliseconds per training step of one configuration (after one warm-up step), and
    the peak of memory PyTorch allocated on the GPU for it (MiB; None on the CPU)."""
    c, b, accumulate = entry["config"], entry["batch"], entry.get("accumulate", 1)
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    torch.manual_seed(0)
    options = trainer_options(batch=b, accumulate=accumulate, lr=1e-4)
    student = Tips(c).to(device)
    teacher = Tips(c, teacher=True).to(device)
    pairs = [(t, dict(named(student))[name]) for name, t in named(teacher)]
    with torch.no_grad():
        for t, s in pairs:
            t.copy_(s)
    teacher.requires_grad_(False)
    params = list(student.named_parameters())
    optimizer = torch.optim.AdamW(
        [{"params": [p for n, p in params if decays(n, p)], "weight_decay": 0.05},
         {"params": [p for n, p in params if not decays(n, p)], "weight_decay": 0.0}], lr=1e-4)
    centres = torch.zeros(2, c["head"]["prototypes"], device=device)
    # Two steps' worth of inputs, each step as `accumulate` micro-batches (as our Trainer splits it).
    micro = b // accumulate
    batches = [
        [make_batch(c, micro, device, torch.Generator().manual_seed(i * accumulate + a)) for a in range(accumulate)]
        for i in range(2)
    ]

    def step(micro_batches):
        optimizer.zero_grad(set_to_none=True)
        for batch in micro_batches:
            (tips_loss(student, teacher, batch, options, 0.04, centres)[0] / accumulate).backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 3.0)
        optimizer.step()
        with torch.no_grad():
            student.logit_scale.clamp_(0, MAX_LOG_LOGIT_SCALE)
            for t, s in pairs:
                t.mul_(0.996).add_(s, alpha=0.004)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    step(batches[0])
    sync()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(steps):
            step(batches[i % 2])
        sync()
        samples.append((time.perf_counter() - start) * 1000 / steps)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None
    return statistics.median(samples), peak


def step_rows(configs, device, small):
    """{"step": {name: ms}, "step memory": {name: MiB}} for the reference JSON."""
    times, memory = {}, {}
    for e in configs:
        times[e["name"]], peak = step_ms(e, device, 2 if small else 10)
        if peak is not None:
            memory[e["name"]] = peak
    return {"step": times, "step memory": memory}
