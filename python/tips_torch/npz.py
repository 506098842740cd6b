"""The official TIPS checkpoints (google-deepmind/tips: an image encoder .npz and a text encoder
.npz under the official parameter names, which are ours): their encoder configs read from the
array shapes and their arrays loaded into tips_torch encoders, as src/tips/weights.ts does."""
import math

import numpy as np
import torch

OFFICIAL_HEADS = {384: 6, 768: 12, 1024: 16, 1152: 16, 1536: 24}


class WeightsError(ValueError):
    pass


def read_npz(path):
    with np.load(path) as z:
        return {name: torch.from_numpy(np.array(z[name])) for name in z.files}


def _shape(arrays, name, part):
    if name not in arrays:
        raise WeightsError(f"the {part} file has no {name}: is it an official TIPS {part} checkpoint?")
    return list(arrays[name].shape)


def _heads(width, heads, part):
    h = heads or OFFICIAL_HEADS.get(width)
    if not h:
        raise WeightsError(f"{part} width {width} is not an official size: give the number of heads")
    return h


def vision_config(arrays, heads=None, image_size=None):
    width, _, patch, _ = _shape(arrays, "patch_embed.proj.weight", "vision")
    grid = round(math.sqrt(_shape(arrays, "pos_embed", "vision")[1] - 1))
    depth = 0
    while f"blocks.{depth}.norm1.weight" in arrays:
        depth += 1
    swiglu = "blocks.0.mlp.w12.weight" in arrays
    hidden = (_shape(arrays, "blocks.0.mlp.w3.weight", "vision")[1] if swiglu
              else _shape(arrays, "blocks.0.mlp.fc1.weight", "vision")[0])
    return {"imageSize": image_size or grid * patch, "patchSize": patch, "posGrid": grid, "width": width,
            "depth": depth, "heads": _heads(width, heads, "vision"), "mlpHidden": hidden,
            "ffn": "swiglu" if swiglu else "mlp", "eps": 1e-6, "layerScale": 1e-5, "initStd": 0.02}


def text_config(arrays, heads=None, max_length=64):
    vocab, width = _shape(arrays, "token_embedding.weight", "text")
    depth = 0
    while f"transformer.resblocks.{depth}.ln_1.weight" in arrays:
        depth += 1
    hidden = _shape(arrays, "transformer.resblocks.0.mlp.c_fc.weight", "text")[0]
    return {"vocabSize": vocab, "maxLength": max_length, "width": width, "depth": depth,
            "heads": _heads(width, heads, "text"), "mlpHidden": hidden, "eps": 1e-5}


def load_official(encoder, arrays):
    """Loads the arrays into an encoder (VisionEncoder or TextEncoder) whose every parameter they
    must hold, shapes equal; nothing is loaded otherwise. Returns the names it had no use for."""
    params = dict(encoder.named_parameters())
    problems = [f"{n}: file has {list(a.shape)}, model has {list(params[n].shape)}"
                for n, a in arrays.items() if n in params and tuple(a.shape) != tuple(params[n].shape)]
    missing = [n for n in params if n not in arrays]
    if missing:
        problems.append(f"missing from the file: {', '.join(missing[:8])}"
                        + (f" and {len(missing) - 8} more" if len(missing) > 8 else ""))
    if problems:
        raise WeightsError(f"weights do not fit the model (nothing was loaded): {'; '.join(problems)}")
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(arrays[n])
    return sorted(n for n in arrays if n not in params)
