"""PyTorch eager fp32 reference of one TIPS training step, for the `step` rows of `npm run bench`.

The same model and losses as src/tips and src/train (DINOv2-style image encoder with CLS and one
register token, LayerScale, exact GELU; CLIP-style text encoder with ReLU MLP, padding mask and
masked mean pooling; DINO and iBOT heads with a weight-normalised last layer; CLIP on both CLS
tokens of the unmasked global crop, iBOT on the masked one (two student passes); DINO and iBOT
with Sinkhorn-Knopp teacher targets, iBOT over every patch weighted by the mask; AdamW,
global-norm clipping at 3, the logit scale clamped at 100, EMA teacher of the image encoder and
heads). Inputs are random tensors already on the GPU at crop size; ours also uploads the images
and crops them.

Used by bench.py (--step-configs FILE, written by `npm run bench -- --write-step-configs FILE`).
"""
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def attention(q, k, v, key_mask=None):
    """q, k, v: [B, H, S, Dh]; key_mask: [B, S] bool, True = real token."""
    sdpa = getattr(F, "scaled_dot_product_attention", None)  # torch >= 2.0
    bias = None
    if key_mask is not None:
        bias = torch.zeros(key_mask.shape, device=q.device).masked_fill(~key_mask, float("-inf"))[:, None, None, :]
    if sdpa is not None:
        return sdpa(q, k, v, attn_mask=bias)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if bias is not None:
        scores = scores + bias
    return scores.softmax(-1) @ v


class SelfAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, key_mask=None):
        b, s, d = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        return self.proj(attention(q, k, v, key_mask).transpose(1, 2).reshape(b, s, d))


class VitBlock(nn.Module):
    def __init__(self, v):
        super().__init__()
        if v["ffn"] != "mlp":
            raise ValueError(f'the reference has only the GELU MLP block, not {v["ffn"]}')
        d = v["width"]
        self.norm1 = nn.LayerNorm(d, eps=v["eps"])
        self.attn = SelfAttention(d, v["heads"])
        self.ls1 = nn.Parameter(torch.full((d,), v["layerScale"]))
        self.norm2 = nn.LayerNorm(d, eps=v["eps"])
        self.fc1 = nn.Linear(d, v["mlpHidden"])
        self.fc2 = nn.Linear(v["mlpHidden"], d)
        self.ls2 = nn.Parameter(torch.full((d,), v["layerScale"]))

    def forward(self, x):
        x = x + self.ls1 * self.attn(self.norm1(x))
        return x + self.ls2 * self.fc2(F.gelu(self.fc1(self.norm2(x))))


class VisionEncoder(nn.Module):
    def __init__(self, v):
        super().__init__()
        d, p, g = v["width"], v["patchSize"], v["posGrid"]
        self.patch, self.grid = p, g
        self.patch_embed = nn.Conv2d(3, d, p, stride=p)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.register_tokens = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + g * g, d) * 0.02)
        self.mask_token = nn.Parameter(torch.zeros(1, d))
        self.blocks = nn.ModuleList(VitBlock(v) for _ in range(v["depth"]))
        self.norm = nn.LayerNorm(d, eps=v["eps"])

    def forward(self, images, masks=None):
        x = self.patch_embed(images).flatten(2).transpose(1, 2)  # [B, N, D]
        b, n, d = x.shape
        if masks is not None:
            x = x * (1 - masks) + masks * self.mask_token
        gh, gw = images.shape[2] // self.patch, images.shape[3] // self.patch
        grid = self.pos_embed[:, 1:]
        if (gh, gw) != (self.grid, self.grid):
            grid = grid.reshape(1, self.grid, self.grid, d).permute(0, 3, 1, 2)
            grid = F.interpolate(grid, size=(gh, gw), mode="bilinear", antialias=True, align_corners=False)
            grid = grid.permute(0, 2, 3, 1).reshape(1, gh * gw, d)
        x = x + grid
        cls1 = (self.cls_token + self.pos_embed[:, :1]).expand(b, 1, d)
        cls2 = self.register_tokens.expand(b, 1, d)
        x = torch.cat([cls1, cls2, x], 1)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return x[:, 0], x[:, 1], x[:, 2:]


class TextBlock(nn.Module):
    def __init__(self, t):
        super().__init__()
        d = t["width"]
        self.ln_1 = nn.LayerNorm(d, eps=t["eps"])
        self.attn = SelfAttention(d, t["heads"])
        self.ln_2 = nn.LayerNorm(d, eps=t["eps"])
        self.c_fc = nn.Linear(d, t["mlpHidden"])
        self.c_proj = nn.Linear(t["mlpHidden"], d)

    def forward(self, x, key_mask):
        x = x + self.attn(self.ln_1(x), key_mask)
        return x + self.c_proj(F.relu(self.c_fc(self.ln_2(x)))) * key_mask[..., None]


def sinusoids(length, width):
    half = width // 2
    scale = math.log(10000) / (half - 1)
    inv = torch.exp(-scale * torch.arange(half))
    t = torch.arange(length)[:, None] * inv[None]
    return torch.cat([t.sin(), t.cos()], 1)


class TextEncoder(nn.Module):
    def __init__(self, t):
        super().__init__()
        self.width = t["width"]
        self.token_embedding = nn.Embedding(t["vocabSize"], t["width"])
        self.register_buffer("positions", sinusoids(t["maxLength"], t["width"]))
        self.resblocks = nn.ModuleList(TextBlock(t) for _ in range(t["depth"]))
        self.ln_final = nn.LayerNorm(t["width"], eps=t["eps"])

    def forward(self, ids, key_mask):
        x = self.token_embedding(ids) * math.sqrt(self.width) + self.positions[: ids.shape[1]]
        for block in self.resblocks:
            x = block(x, key_mask)
        x = self.ln_final(x) * key_mask[..., None]
        return x.sum(1) / key_mask.sum(1, keepdim=True)


class ProjectionHead(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(d, h["hidden"]),
            nn.GELU(),
            nn.Linear(h["hidden"], h["hidden"]),
            nn.GELU(),
            nn.Linear(h["hidden"], h["bottleneck"]),
        )
        self.prototypes = nn.Parameter(torch.randn(h["prototypes"], h["bottleneck"]) * 0.02)

    def forward(self, x):
        z = F.normalize(self.mlp(x), dim=-1, eps=1e-12)
        return z @ F.normalize(self.prototypes, dim=-1, eps=1e-12).T


class Student(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["vision"]["width"]
        self.vision = VisionEncoder(c["vision"])
        self.dino_head = ProjectionHead(d, c["head"])
        self.ibot_head = ProjectionHead(d, c["head"])
        self.text = TextEncoder(c["text"])
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))


@torch.no_grad()
def sinkhorn_log_targets(logits, tau, iterations=3):
    q = logits / tau
    for _ in range(iterations):
        q = q - q.logsumexp(0, keepdim=True)
        q = q - q.logsumexp(1, keepdim=True)
    return q


def distill(student, log_targets, tau_s=0.1):
    """Per-row cross-entropy; student row r against target row r mod T."""
    t = log_targets.shape[0]
    targets = log_targets.exp().repeat(student.shape[0] // t, 1)
    return -(targets * F.log_softmax(student / tau_s, -1)).sum(-1)


def clip_loss(image, text, log_scale):
    logits = log_scale.exp() * F.normalize(image, dim=-1, eps=1e-3) @ F.normalize(text, dim=-1, eps=1e-3).T
    labels = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def tips_loss(student, teacher, batch, c, tau_t=0.04, tau_t_patch=0.07, terms=None):
    """The sum of the four terms; `terms`, when given, receives each of them."""
    b = batch["global"].shape[0]
    k = c["head"]["prototypes"]
    # CLIP reads the unmasked global crop; the masked one feeds only iBOT.
    cls1, cls2, _ = student.vision(batch["global"])
    _, _, patches = student.vision(batch["global"], batch["masks"])
    web = clip_loss(cls1, student.text(*batch["web"]), student.logit_scale)
    syn = clip_loss(cls2, student.text(*batch["syn"]), student.logit_scale)
    with torch.no_grad():
        t_cls1, _, t_patches = teacher.vision(batch["global"])
        t_dino = sinkhorn_log_targets(teacher.dino_head(t_cls1), tau_t)
        t_ibot = sinkhorn_log_targets(teacher.ibot_head(t_patches).reshape(-1, k), tau_t_patch)
    local_cls1, _, _ = student.vision(batch["local"])
    dino = distill(student.dino_head(local_cls1), t_dino).mean()
    mim = (distill(student.ibot_head(patches).reshape(-1, k), t_ibot) * batch["mim_weights"]).sum()
    if terms is not None:
        terms.update(web=web, syn=syn, dino=dino, mim=mim)
    return web + syn + dino + mim


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
        ids = torch.randint(1, t["vocabSize"], (b, t["maxLength"]), generator=generator) * key_mask
        return ids.to(device), key_mask.to(device)

    return {
        "global": torch.rand(b, 3, s, s, generator=generator).to(device),
        "local": torch.rand(m * b, 3, ls, ls, generator=generator).to(device),
        "masks": masks.to(device),
        "mim_weights": weights.to(device),
        "web": text(),
        "syn": text(),
    }


def teacher_params(student):
    """The parameters the EMA teacher copies: image encoder and heads."""
    return [p for name, p in student.named_parameters() if not name.startswith(("text.", "logit_scale"))]


def step_ms(entry, device, steps, repeats=3):
    """Median milliseconds per training step of one configuration (after one warm-up step), and
    the peak of memory PyTorch allocated on the GPU for it (MiB; None on the CPU)."""
    c, b, accumulate = entry["config"], entry["batch"], entry.get("accumulate", 1)
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    torch.manual_seed(0)
    student = Student(c).to(device)
    teacher = Student(c).to(device)
    teacher.load_state_dict(student.state_dict())
    teacher.requires_grad_(False)
    decay = [p for n, p in student.named_parameters() if p.ndim >= 2 and "token" not in n and "pos_embed" not in n]
    no_decay = [p for n, p in student.named_parameters() if not (p.ndim >= 2 and "token" not in n and "pos_embed" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-4
    )
    pairs = list(zip(teacher_params(teacher), teacher_params(student)))
    # Two steps' worth of inputs, each step as `accumulate` micro-batches (as our Trainer splits it).
    micro = b // accumulate
    batches = [
        [make_batch(c, micro, device, torch.Generator().manual_seed(i * accumulate + a)) for a in range(accumulate)]
        for i in range(2)
    ]

    def step(micro_batches):
        optimizer.zero_grad(set_to_none=True)
        for batch in micro_batches:
            (tips_loss(student, teacher, batch, c) / accumulate).backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 3.0)
        optimizer.step()
        with torch.no_grad():
            student.logit_scale.clamp_(0, math.log(100))
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
