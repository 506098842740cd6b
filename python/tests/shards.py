"""Small WebDataset shards for the tests: PNG images of a few sizes, web and synthetic captions."""
import io
import json
import random
import struct
import tarfile
import zlib

COLOURS = ["red", "green", "blue", "yellow", "black", "white"]
SHAPES = ["circle", "square", "triangle", "star"]


def png(width, height, pixels):
    """An 8-bit RGB PNG (filter 0 on every row) from bytes in row order."""
    rows = b"".join(b"\x00" + pixels[y * width * 3:(y + 1) * width * 3] for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def write_shards(folder, shards=2, per_shard=16, seed=0):
    """Writes folder/shard-000.tar ...; returns their paths."""
    rng = random.Random(seed)
    paths = []
    for s in range(shards):
        path = f"{folder}/shard-{s:03d}.tar"
        with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
            for i in range(per_shard):
                key = f"{s:03d}{i:05d}"
                w, h = rng.choice([(24, 20), (32, 32), (20, 28)])
                colour, shape = rng.choice(COLOURS), rng.choice(SHAPES)
                pixels = bytes(rng.randrange(256) for _ in range(w * h * 3))
                files = {
                    "png": png(w, h, pixels),
                    "txt": f"a {colour} {shape}".encode(),
                    "json": json.dumps({"synthetic_caption": f"a {shape} that is {colour}, on noise"}).encode(),
                }
                for ext, data in files.items():
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(data)
                    info.mtime = 0
                    tar.addfile(info, io.BytesIO(data))
        paths.append(path)
    return paths
