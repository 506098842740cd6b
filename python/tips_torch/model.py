"""The TIPS model in PyTorch, as src/tips builds it: a DINOv2-style image encoder (CLS and one
register token, LayerScale, exact GELU or SwiGLU), a CLIP-style text encoder (ReLU MLP, padding
mask, masked mean pooling), DINO and iBOT heads with a weight-normalised last layer, and the CLIP
logit scale. Parameter names inside each part are the official ones (and our checkpoints'):
`engine_name` drops the "vision." and "text." module prefixes."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

HEAD_EPS = 1e-12
CLIP_EPS = 1e-3
MAX_LOG_LOGIT_SCALE = math.log(100)


def attention(q, k, v, key_mask=None):
    """q, k, v: [B, H, S, Dh]; key_mask: [B, S] bool, True = a real token (keys only)."""
    bias = None
    if key_mask is not None:
        bias = torch.zeros(key_mask.shape, device=q.device, dtype=q.dtype)
        bias = bias.masked_fill(~key_mask, float("-inf"))[:, None, None, :]
    sdpa = getattr(F, "scaled_dot_product_attention", None)  # torch >= 2.0
    if sdpa is not None:
        return sdpa(q, k, v, attn_mask=bias)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if bias is not None:
        scores = scores + bias
    return scores.softmax(-1) @ v


def trunc_normal(shape, std):
    return nn.init.trunc_normal_(torch.empty(shape), std=std, a=-2 * std, b=2 * std)


def linear(i, o, std=None, bias=True):
    """torch.nn.Linear; with `std`, a truncated-normal weight and a zero bias (as src/nn/linear.ts)."""
    layer = nn.Linear(i, o, bias=bias)
    if std is not None:
        with torch.no_grad():
            layer.weight.copy_(trunc_normal(layer.weight.shape, std))
            if bias:
                layer.bias.zero_()
    return layer


class SelfAttention(nn.Module):
    """The image encoder's attention: qkv and proj linears."""

    def __init__(self, dim, heads, std):
        super().__init__()
        self.heads = heads
        self.qkv = linear(dim, 3 * dim, std)
        self.proj = linear(dim, dim, std)

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        return self.proj(attention(q, k, v).transpose(1, 2).reshape(b, s, d))


class LayerScale(nn.Module):
    def __init__(self, dim, value):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(value)))

    def forward(self, x):
        return x * self.gamma


class Mlp(nn.Module):
    def __init__(self, dim, hidden, std):
        super().__init__()
        self.fc1 = linear(dim, hidden, std)
        self.fc2 = linear(hidden, dim, std)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class SwiGluFfn(nn.Module):
    def __init__(self, dim, hidden, std):
        super().__init__()
        self.w12 = linear(dim, 2 * hidden, std)
        self.w3 = linear(hidden, dim, std)

    def forward(self, x):
        x1, x2 = self.w12(x).chunk(2, dim=-1)
        return self.w3(F.silu(x1) * x2)


class VitBlock(nn.Module):
    def __init__(self, v):
        super().__init__()
        d, std = v["width"], v["initStd"]
        self.norm1 = nn.LayerNorm(d, eps=v["eps"])
        self.attn = SelfAttention(d, v["heads"], std)
        self.ls1 = LayerScale(d, v["layerScale"])
        self.norm2 = nn.LayerNorm(d, eps=v["eps"])
        self.mlp = SwiGluFfn(d, v["mlpHidden"], std) if v["ffn"] == "swiglu" else Mlp(d, v["mlpHidden"], std)
        self.ls2 = LayerScale(d, v["layerScale"])

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


def resize_matrix_1d(size_in, size_out):
    """PyTorch's antialiased bilinear weights along one axis, [out, in] (src/tips/posembed.ts)."""
    r = torch.zeros(size_out, size_in, dtype=torch.float64)
    scale = size_in / size_out
    support = max(scale, 1.0)
    inv_scale = 1 / scale if scale >= 1 else 1.0
    for i in range(size_out):
        centre = scale * (i + 0.5)
        lo = max(math.trunc(centre - support + 0.5), 0)
        hi = min(math.trunc(centre + support + 0.5), size_in)
        for j in range(lo, hi):
            r[i, j] = max(0.0, 1 - abs((j - centre + 0.5) * inv_scale))
        total = r[i].sum()
        if total > 0:
            r[i] /= total
    return r


def resize_matrix_2d(size_in, gh, gw):
    """[gh*gw, G*G]: the position grid resized to a gh x gw patch grid, as one matrix."""
    return torch.kron(resize_matrix_1d(size_in, gh), resize_matrix_1d(size_in, gw)).float()


class PatchEmbed(nn.Module):
    def __init__(self, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, stride=patch)
        bound = 1 / math.sqrt(3 * patch * patch)
        with torch.no_grad():
            nn.init.uniform_(self.proj.weight, -bound, bound)
            nn.init.uniform_(self.proj.bias, -bound, bound)


class VisionEncoder(nn.Module):
    def __init__(self, v):
        super().__init__()
        d, p, g = v["width"], v["patchSize"], v["posGrid"]
        self.patch, self.grid = p, g
        self.patch_embed = PatchEmbed(d, p)
        self.cls_token = nn.Parameter(trunc_normal((1, 1, d), 1e-6))
        self.register_tokens = nn.Parameter(trunc_normal((1, 1, d), 1e-6))
        self.pos_embed = nn.Parameter(trunc_normal((1, 1 + g * g, d), 0.02))
        self.mask_token = nn.Parameter(torch.zeros(1, d))
        self.blocks = nn.ModuleList(VitBlock(v) for _ in range(v["depth"]))
        self.norm = nn.LayerNorm(d, eps=v["eps"])
        self._resizers = {}

    def resizer(self, gh, gw, device):
        key = (gh, gw, str(device))
        if key not in self._resizers:
            self._resizers[key] = resize_matrix_2d(self.grid, gh, gw).to(device)
        return self._resizers[key]

    def forward(self, images, masks=None):
        """images [B, 3, H, W] in [0, 1]; masks [B, N, 1] (1 = patch replaced by mask_token).
        Returns CLS#1 [B, D], CLS#2 [B, D] and the patch tokens [B, N, D]."""
        x = self.patch_embed.proj(images).flatten(2).transpose(1, 2)
        b, n, d = x.shape
        if masks is not None:
            x = x * (1 - masks) + masks * self.mask_token
        gh, gw = images.shape[2] // self.patch, images.shape[3] // self.patch
        grid = self.pos_embed[0, 1:]
        if (gh, gw) != (self.grid, self.grid):
            grid = self.resizer(gh, gw, grid.device) @ grid
        x = x + grid
        cls1 = (self.cls_token + self.pos_embed[:, :1]).expand(b, 1, d)
        cls2 = self.register_tokens.expand(b, 1, d)
        x = torch.cat([cls1, cls2, x], 1)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return x[:, 0], x[:, 1], x[:, 2:]


class TextAttention(nn.Module):
    """torch.nn.MultiheadAttention's parameter names, with a key-padding mask."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        bound = 1 / math.sqrt(dim)
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim).uniform_(-bound, bound))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * dim).uniform_(-bound, bound))
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x, key_mask):
        b, s, d = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.view(b, s, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        return self.out_proj(attention(q, k, v, key_mask).transpose(1, 2).reshape(b, s, d))


class TextMlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.c_fc = nn.Linear(dim, hidden)
        self.c_proj = nn.Linear(hidden, dim)


class TextBlock(nn.Module):
    def __init__(self, t):
        super().__init__()
        d = t["width"]
        self.ln_1 = nn.LayerNorm(d, eps=t["eps"])
        self.attn = TextAttention(d, t["heads"])
        self.ln_2 = nn.LayerNorm(d, eps=t["eps"])
        self.mlp = TextMlp(d, t["mlpHidden"])

    def forward(self, x, key_mask):
        keep = key_mask[..., None].to(x.dtype)
        x = x + self.attn(self.ln_1(x), key_mask)
        return x + self.mlp.c_proj(F.relu(self.mlp.c_fc(self.ln_2(x))) * keep) * keep


def sinusoids(length, width):
    half = width // 2
    increment = math.log(10000) / max(half - 1, 1)
    inv = torch.exp(-increment * torch.arange(half, dtype=torch.float64))
    t = torch.arange(length, dtype=torch.float64)[:, None] * inv[None]
    return torch.cat([t.sin(), t.cos()], 1).float()


class Transformer(nn.Module):
    def __init__(self, t):
        super().__init__()
        self.resblocks = nn.ModuleList(TextBlock(t) for _ in range(t["depth"]))


class TextEncoder(nn.Module):
    def __init__(self, t):
        super().__init__()
        self.width = t["width"]
        self.token_embedding = nn.Embedding(t["vocabSize"], t["width"])
        with torch.no_grad():
            self.token_embedding.weight.copy_(trunc_normal(self.token_embedding.weight.shape, 0.02))
        self.register_buffer("positions", sinusoids(t["maxLength"], t["width"]), persistent=False)
        self.transformer = Transformer(t)
        self.ln_final = nn.LayerNorm(t["width"], eps=t["eps"])

    def forward(self, ids):
        """ids [B, L] (0 = padding) -> [B, D], the mean of the final-normed real tokens."""
        key_mask = ids != 0
        keep = key_mask[..., None].to(torch.float32)
        x = self.token_embedding(ids) * math.sqrt(self.width) + self.positions[: ids.shape[1]]
        for block in self.transformer.resblocks:
            x = block(x, key_mask)
        x = self.ln_final(x) * keep
        return x.sum(1) / (keep.sum(1) + 1e-8)


class ProjectionHead(nn.Module):
    """DINOv2's DINOHead: a 3-layer GELU MLP, L2-normalised, then unit-norm prototype rows."""

    def __init__(self, d, h):
        super().__init__()
        self.mlp = nn.Sequential(
            linear(d, h["hidden"], 1 / math.sqrt(d)),
            nn.GELU(),
            linear(h["hidden"], h["hidden"], 1 / math.sqrt(h["hidden"])),
            nn.GELU(),
            linear(h["hidden"], h["bottleneck"], 1 / math.sqrt(h["hidden"])),
        )
        self.last_layer = nn.Linear(h["bottleneck"], h["prototypes"], bias=False)
        with torch.no_grad():
            self.last_layer.weight.copy_(trunc_normal(self.last_layer.weight.shape, 0.02))

    def forward(self, x):
        z = F.normalize(self.mlp(x), dim=-1, eps=HEAD_EPS)
        return z @ F.normalize(self.last_layer.weight, dim=-1, eps=HEAD_EPS).T


class Tips(nn.Module):
    """The student (all of it) or, with `teacher=True`, the EMA teacher (image encoder and heads)."""

    def __init__(self, c, teacher=False):
        super().__init__()
        d = c["vision"]["width"]
        self.vision = VisionEncoder(c["vision"])
        self.dino_head = ProjectionHead(d, c["head"])
        self.ibot_head = ProjectionHead(d, c["head"])
        if not teacher:
            self.text = TextEncoder(c["text"])
            self.logit_scale = nn.Parameter(torch.tensor([math.log(1 / 0.07)]))

    def forward(self, run, *args):
        """run(self, *args): the loss is computed inside forward, as DDP and FSDP need it."""
        return run(self, *args)


def torch_name(name):
    """A parameter's name in `Tips`, without what DDP and FSDP wrappers add to it."""
    name = name.replace("_fsdp_wrapped_module.", "")
    return name[len("module."):] if name.startswith("module.") else name


def engine_name(name):
    """Our checkpoints' name of a parameter of `Tips` (official names, no module prefix)."""
    name = torch_name(name)
    for prefix in ("vision.", "text."):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


# Parameters of rank >= 2 that take no weight decay (src/tips: created with decay: false).
NO_DECAY = {"cls_token", "register_tokens", "pos_embed", "mask_token", "token_embedding.weight"}


def decays(name, p):
    return p.ndim >= 2 and engine_name(name) not in NO_DECAY
