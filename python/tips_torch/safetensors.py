"""A small .safetensors reader and writer (F32, I32, U32; F16/BF16/F64 read as float32), with
the header's __metadata__ strings, as src/tensor/safetensors.ts writes them: tensors in the
order given, the header padded with spaces to 8 bytes."""
import json
import os
import struct

import numpy as np
import torch

_READ = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I32": np.int32, "U32": np.uint32}
_WRITE = {torch.float32: "F32", torch.int32: "I32"}
MAX_HEADER = 100 * 2**20

class SafetensorsError(ValueError):
    pass

def read(path):
    """(tensors, metadata): tensors maps names to torch tensors in file order (by data offset)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise SafetensorsError(f"{path}: {len(data)} bytes is too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER or 8 + n > len(data):
        raise SafetensorsError(f"{path}: header length {n} does not fit in {len(data)} bytes (not safetensors?)")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SafetensorsError(f"{path}: the header is not UTF-8 JSON ({err})") from None
    metadata = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + n:]
    tensors = {}
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = e["data_offsets"]
        raw = body[begin:end]
        if e["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        elif e["dtype"] in _READ:
            array = np.frombuffer(raw, dtype=np.dtype(_READ[e["dtype"]]).newbyteorder("<"))
        else:
            raise SafetensorsError(f'{path}: tensor {name} has dtype {e["dtype"]}, which is not read here')
        if array.dtype in (np.float16, np.float64):
            array = array.astype(np.float32)
        if array.dtype == np.uint32:
            array = array.astype(np.int64)
        tensors[name] = torch.from_numpy(array.copy()).reshape(e["shape"])
    return tensors, metadata

def write(path, tensors, metadata):
    """tensors: name -> float32 or int32 tensor, stored in this order; metadata: name -> str."""
    header = {"__metadata__": metadata} if metadata else {}
    chunks, offset = [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.dtype not in _WRITE:
            raise SafetensorsError(f"tensor {name} is {t.dtype}: only float32 and int32 are written")
        raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _WRITE[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)

    os.replace(path + ".tmp", path)
