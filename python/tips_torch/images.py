"""Image bytes to [H, W, 3] uint8 RGB tensors. PNG (8 and 16 bits, not interlaced) is decoded
here with the standard library, exactly; JPEG and WebP, and interlaced PNG, through Pillow
(Debian: python3-pil) when it is installed. Alpha is dropped as the engine's crops drop it."""
import io
import struct
import zlib

import numpy as np
import torch

_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


class ImageError(ValueError):
    pass


def _unfilter(raw, width, height, bpp):
    stride = width * bpp
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    pos = 0
    for y in range(height):
        kind = raw[pos]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=pos + 1).astype(np.int32)
        pos += 1 + stride
        if kind == 0:
            cur = line
        elif kind == 2:
            cur = (line + prev) & 255
        elif kind in (1, 3, 4):
            cur = line.copy()
            for x in range(stride):
                a = cur[x - bpp] if x >= bpp else 0
                if kind == 1:
                    p = a
                elif kind == 3:
                    p = (a + prev[x]) >> 1
                else:
                    b, c = prev[x], prev[x - bpp] if x >= bpp else 0
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else b if pb <= pc else c
                cur[x] = (cur[x] + p) & 255
        else:
            raise ImageError(f"bad PNG filter type {kind}")
        out[y] = cur
        prev = cur
    return out


def decode_png(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ImageError("not a PNG")
    pos, idat, palette = 8, [], None
    width = height = depth = color = interlace = None
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if width is None or color not in _CHANNELS or depth not in (8, 16) or interlace:
        return None  # a PNG this decoder leaves to Pillow
    channels = _CHANNELS[color]
    bpp = channels * depth // 8
    rows = _unfilter(zlib.decompress(b"".join(idat)), width, height, bpp)
    if depth == 16:
        wide = rows.reshape(height, width * channels, 2).astype(np.uint32)
        pixels = ((wide[..., 0] * 256 + wide[..., 1]) * 255 + 32767) // 65535
        pixels = pixels.astype(np.uint8).reshape(height, width, channels)
    else:
        pixels = rows.reshape(height, width, channels)
    if color == 3:
        if palette is None:
            raise ImageError("PNG palette image without a palette")
        pixels = palette[pixels[..., 0]]
    elif channels <= 2:
        pixels = np.repeat(pixels[..., :1], 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(pixels[..., :3]))


def decode(data):
    """[H, W, 3] uint8, or raises ImageError saying why not."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        pixels = decode_png(data)
        if pixels is not None:
            return pixels
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise ImageError("decoding JPEG and WebP needs Pillow: apt-get install python3-pil") from None
    try:
        with Image.open(io.BytesIO(data)) as im:
            rgb = ImageOps.exif_transpose(im).convert("RGB")
            return torch.from_numpy(np.asarray(rgb).copy())
    except Exception as err:  # Pillow raises many kinds for bad data
        raise ImageError(f"cannot decode the image ({err})") from None
