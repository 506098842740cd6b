"""Our checkpoints (.safetensors, src/train/checkpoint.ts) to and from PyTorch state:
  <official name>            student parameters
  teacher.<name>             the EMA teacher (image encoder and heads)
  train.optimizer.m / .v     AdamW moments, flat, in the engine's parameter slab layout
  train.dino_centre / train.ibot_centre
and the header's __metadata__: format, config, options, state (step, AdamW step, crop RNG, data
position), tokenizer, notes."""
import datetime
import json
import math

import torch

from . import safetensors
from .model import engine_name

CHECKPOINT_FORMAT = "tips-webgpu-checkpoint"
WEIGHTS_FORMAT = "tips-webgpu-weights"
# The engine's parameter slab pads every tensor to 256 bytes (src/tensor/tensor.ts VIEW_ALIGN).
SLAB_ALIGN_FLOATS = 64


class CheckpointError(ValueError):
    pass


def slab_layout(shapes):
    """[(offset, size)] of each tensor in the flat slab, and the slab's length (in floats)."""
    layout, at = [], 0
    for shape in shapes:
        size = math.prod(shape)
        layout.append((at, size))
        at += math.ceil(max(1, size) / SLAB_ALIGN_FLOATS) * SLAB_ALIGN_FLOATS
    return layout, at


def unflatten(flat, shapes):
    layout, total = slab_layout(shapes)
    if flat.numel() != total:
        raise CheckpointError(f"a flat optimiser tensor holds {flat.numel()} values, the model's layout {total}")
    return [flat[at:at + size].reshape(shape).clone() for (at, size), shape in zip(layout, shapes)]


def flatten(tensors):
    layout, total = slab_layout([tuple(t.shape) for t in tensors])
    flat = torch.zeros(total, dtype=torch.float32)
    for (at, size), t in zip(layout, tensors):
        flat[at:at + size] = t.detach().reshape(-1).cpu()
    return flat


def _field(metadata, key):
    if key not in metadata:
        raise CheckpointError(f'the header has no "{key}" entry')
    try:
        return json.loads(metadata[key])
    except ValueError:
        raise CheckpointError(f'the header\'s "{key}" entry is not valid JSON') from None


def read_checkpoint(path):
    """{config, options, state, tokenizer, notes, tensors} of a training checkpoint, with what
    older files lack filled in as src/train/checkpoint.ts fills it."""
    try:
        tensors, metadata = safetensors.read(path)
    except OSError as err:
        raise CheckpointError(f"cannot read {path}: {err.strerror}") from None
    fmt = metadata.get("format")
    if fmt != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} holds exported weights only (no optimiser or teacher state): it cannot be resumed"
            if fmt == WEIGHTS_FORMAT else f'{path} is not a TIPS training checkpoint (format "{fmt or "missing"}")')
    config, options = _field(metadata, "config"), _field(metadata, "options")
    config["vision"].setdefault("initStd", 0.02)
    options.setdefault("centring", "centre")
    options.setdefault("captions", "dual")
    options["views"].setdefault("maskProbability", 1)
    options["weights"] = {"sparc": 0, "rils": 0, **options["weights"]}
    notes = _field(metadata, "notes") if "notes" in metadata else {}
    return {"config": config, "options": options, "state": _field(metadata, "state"),
            "tokenizer": _field(metadata, "tokenizer"), "notes": notes, "tensors": tensors}


def named(module):
    """(engine name, parameter) of a `Tips` module, in the engine's creation order: nn.Module lists
    a module's own parameters before its children's, where the engine creates the patch embedding
    before the tokens and the logit scale after the text encoder."""
    params = [(engine_name(n), p) for n, p in module.named_parameters()]
    first = [(n, p) for n, p in params if n.startswith("patch_embed.")]
    last = [(n, p) for n, p in params if n == "logit_scale"]
    return first + [(n, p) for n, p in params if not n.startswith("patch_embed.") and n != "logit_scale"] + last


def _load(params, tensors, prefix, path):
    with torch.no_grad():
        for name, p in params:
            t = tensors.get(prefix + name)
            if t is None:
                raise CheckpointError(f"{path}: tensor {prefix}{name} is missing")
            if tuple(t.shape) != tuple(p.shape):
                raise CheckpointError(f"{path}: tensor {prefix}{name} has shape {list(t.shape)}, "
                                      f"the model {list(p.shape)}")
            p.copy_(t)


def load_model(ckpt, student, teacher, centres, path):
    """Student, teacher and centres from a checkpoint read by read_checkpoint."""
    tensors = ckpt["tensors"]
    stored = [n for n in tensors if not n.startswith(("teacher.", "train."))]
    expected = [n for n, _ in named(student)]
    if stored != expected:
        raise CheckpointError(f"{path}: its student tensors are not the model's, in the model's order "
                              "(a checkpoint of another version of the model?)")
    _load(named(student), tensors, "", path)
    _load(named(teacher), tensors, "teacher.", path)
    for i, name in enumerate(["train.dino_centre", "train.ibot_centre"]):
        if name not in tensors or tensors[name].numel() != centres[i].numel():
            raise CheckpointError(f"{path}: tensor {name} is missing or has the wrong size")
        centres[i].copy_(tensors[name])


def moments(ckpt, student):
    """(m, v) per student parameter, in named(student) order, from the flat slabs."""
    shapes = [tuple(p.shape) for _, p in named(student)]
    return tuple(unflatten(ckpt["tensors"][k], shapes) for k in ("train.optimizer.m", "train.optimizer.v"))


def write_checkpoint(path, student, teacher, centres, m, v, info):
    """info: config, options, state, tokenizer, notes (the header's entries)."""
    tensors = {name: p for name, p in named(student)}
    tensors.update({"teacher." + name: p for name, p in named(teacher)})
    tensors["train.optimizer.m"] = flatten(m)
    tensors["train.optimizer.v"] = flatten(v)
    tensors["train.dino_centre"], tensors["train.ibot_centre"] = centres[0], centres[1]
    saved = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    safetensors.write(path, tensors, {
        "format": CHECKPOINT_FORMAT,
        "config": json.dumps(info["config"]),
        "options": json.dumps(info["options"]),
        "state": json.dumps(info["state"]),
        "tokenizer": json.dumps(info["tokenizer"]),
        "notes": json.dumps({"savedAt": saved, **info.get("notes", {})}),
    })
