"""One training batch from decoded examples, as src/train/views.ts and src/data/crops.ts draw it
and kernels/image.wgsl resamples it: a random-resized global crop per image (flipped with
probability 1/2), M local crops (crop-major), random patch masks on a share of the images, and
both captions tokenized."""
import math

import torch

from .rng import js_round

MAX_TAPS = 8


def random_resized_crop(rng, image, width, height, scale, ratio=(3 / 4, 4 / 3)):
    """torchvision's RandomResizedCrop box choice: (image, x, y, w, h, flip)."""
    lo, hi = scale
    rlo, rhi = ratio
    flip = rng.uniform() < 0.5
    area = width * height
    for _ in range(10):
        target = area * (lo + (hi - lo) * rng.uniform())
        aspect = math.exp(math.log(rlo) + (math.log(rhi) - math.log(rlo)) * rng.uniform())
        w = js_round(math.sqrt(target * aspect))
        h = js_round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            return (image, rng.int(width - w + 1), rng.int(height - h + 1), w, h, flip)
    w, h = width, height
    if width / height < rlo:
        h = js_round(w / rlo)
    elif width / height > rhi:
        w = js_round(h * rhi)
    return (image, (width - w) // 2, (height - h) // 2, w, h, flip)


def random_patch_masks(rng, images, patches, ratio):
    masks = [0.0] * (images * patches)
    for b in range(images):
        count = js_round((ratio[0] + (ratio[1] - ratio[0]) * rng.uniform()) * patches)
        order = list(range(patches))
        for i in range(count):
            j = i + rng.int(patches - i)
            order[i], order[j] = order[j], order[i]
            masks[b * patches + order[i]] = 1.0
    return masks


def plan_views(sizes, config, rng, views):
    """sizes: (width, height) per image. Returns global boxes, local boxes, masks [B*N] and the
    MIM weights [B*N], drawn in the engine's order."""
    b = len(sizes)
    n = (config["vision"]["imageSize"] // config["vision"]["patchSize"]) ** 2
    global_boxes = [random_resized_crop(rng, i, w, h, views["globalScale"]) for i, (w, h) in enumerate(sizes)]
    local_boxes = [
        random_resized_crop(rng, i, w, h, views["localScale"])
        for _ in range(config["views"]["localCrops"])
        for i, (w, h) in enumerate(sizes)
    ]
    masks = random_patch_masks(rng, b, n, config["views"]["maskRatio"])
    unmasked = b - math.ceil(b * views["maskProbability"])
    order = list(range(b))
    for i in range(unmasked):
        j = i + rng.int(b - i)
        order[i], order[j] = order[j], order[i]
    for i in order[:unmasked]:
        masks[i * n:(i + 1) * n] = [0.0] * n
    weights = []
    for i in range(b):
        row = masks[i * n:(i + 1) * n]
        count = sum(row)
        for t in range(n):
            masked = row[t] / count / b if count > 0 else 0.0
            weights.append(1 / (n * b) if views["mimAllPatches"] else masked)
    return global_boxes, local_boxes, masks, weights


def _taps(box, size):
    return min(MAX_TAPS, math.ceil(max(1, max(box[3], box[4]) / size)))


def crop(pixels, box, size):
    """pixels [H, W, 3] uint8 -> [3, size, size] float32 in [0, 1]: bilinear at pixel centres,
    clamped at the borders, taps x taps samples per output pixel when shrinking, then flipped."""
    _, x0, y0, w, h, flip = box
    height, width = pixels.shape[:2]
    taps = _taps(box, size)
    f32 = torch.float32
    offsets = (torch.arange(taps, dtype=f32) + 0.5) / taps
    grid = (torch.arange(size, dtype=f32)[:, None] + offsets[None]).reshape(-1)
    u = grid * torch.tensor(w / size, dtype=f32) + x0
    v = grid * torch.tensor(h / size, dtype=f32) + y0
    image = pixels.to(f32) / 255

    def axis(s, limit):
        f = s - 0.5
        lo = torch.floor(f)
        a = f - lo
        lo = lo.long()
        return lo.clamp(0, limit - 1), (lo + 1).clamp(0, limit - 1), a

    xa, xb, ax = axis(u, width)
    ya, yb, ay = axis(v, height)
    top_rows, bottom_rows = image[ya], image[yb]
    ax = ax[None, :, None]
    top = top_rows[:, xa] * (1 - ax) + top_rows[:, xb] * ax
    bottom = bottom_rows[:, xa] * (1 - ax) + bottom_rows[:, xb] * ax
    ay = ay[:, None, None]
    out = top * (1 - ay) + bottom * ay
    out = out.reshape(size, taps, size, taps, 3).sum((1, 3)) / (taps * taps)
    if flip:
        out = out.flip(1)
    return out.permute(2, 0, 1).contiguous()


def make_batch(examples, config, rng, views, tokenizer):
    """examples: dicts with image ([H, W, 3+] uint8 tensor), webCaption, syntheticCaption."""
    images = [e["image"][..., :3] for e in examples]
    sizes = [(im.shape[1], im.shape[0]) for im in images]
    global_boxes, local_boxes, masks, weights = plan_views(sizes, config, rng, views)
    b = len(examples)
    length = config["text"]["maxLength"]
    s, ls = config["vision"]["imageSize"], config["views"]["localSize"]
    return {
        "global": torch.stack([crop(images[box[0]], box, s) for box in global_boxes]),
        "local": torch.stack([crop(images[box[0]], box, ls) for box in local_boxes]),
        "masks": torch.tensor(masks, dtype=torch.float32).reshape(b, -1, 1),
        "mim_weights": torch.tensor(weights, dtype=torch.float32),
        "web": tokenizer.encode([e["webCaption"] for e in examples], length),
        "syn": tokenizer.encode([e["syntheticCaption"] for e in examples], length),
    }


def to_device(batch, device):
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
