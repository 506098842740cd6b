"""WebDataset shards read as src/data/webdataset/reader.ts reads them for `tips train`: the same sample
order (shards open four at a time, read round-robin, a seeded shuffle buffer, the shard order
permuted per epoch, repeated forever) and the same saved position, so that a checkpoint's data
position means the same thing to both. Local tar files only."""
import copy
import json
import os
import tarfile

from .images import ImageError, decode
from .rng import Rng

SKIP_REASONS = ["truncated_shard", "bad_checksum", "bad_tar", "shard_failed", "missing_image",
                "missing_caption", "bad_utf8", "image_too_large", "bad_image", "caption_truncated",
                "bad_json", "web_caption_from_synthetic"]
IMAGE_EXTENSIONS = ["jpg", "jpeg", "png", "webp"]
READ_EXTENSIONS = set(IMAGE_EXTENSIONS) | {"txt", "json", "syn.txt"}
# How `tips train` reads shards (src/data/datasets.ts SHARD_READING).
TRAINING = {"shuffle": 1000, "shuffle_shards": True, "open_shards": 4}


def expand_braces(pattern):
    """`{a..b}` ranges (zero-padded as bash pads them) and `{x,y}` alternatives."""
    start = pattern.find("{")
    if start < 0:
        return [pattern]
    depth, end = 0, -1
    for i in range(start, len(pattern)):
        depth += {"{": 1, "}": -1}.get(pattern[i], 0)
        if depth == 0:
            end = i
            break
    if end < 0:
        return [pattern]
    head, inner, tails = pattern[:start], pattern[start + 1:end], expand_braces(pattern[end + 1:])
    parts = inner.split("..")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        a, b = parts
        width = max(len(a), len(b)) if (len(a) > 1 and a[0] == "0") or (len(b) > 1 and b[0] == "0") else 0
        step = 1 if int(a) <= int(b) else -1
        options = [str(i).zfill(width) for i in range(int(a), int(b) + step, step)]
    else:
        options = split_top_level(inner)
        if len(options) < 2:
            return [f"{head}{{{inner}}}{t}" for t in tails]
    return [head + o + t for option in options for o in expand_braces(option) for t in tails]


def split_top_level(s):
    parts, depth, start = [], 0, 0
    for i, c in enumerate(s + ","):
        if c == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
    return parts


def resolve_shards(spec):
    """The shard paths of a --data value, as `tips train` names them; a folder gives its .tar files."""
    shards = []
    for item in (s.strip() for s in split_top_level(spec)):
        for path in expand_braces(item) if item else []:
            if os.path.isdir(path):
                shards += sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".tar"))
            else:
                shards.append(path)
    if not shards:
        raise ValueError(f"no shards in {spec!r}: give .tar files, a brace pattern such as "
                         "data/shard-{000..009}.tar, or a folder")
    return shards


def fingerprint(shards):
    """Number of shards and an FNV-1a hash of their names (per code point, as the engine)."""
    h = 0x811C9DC5
    for name in shards:
        for c in name + "\n":
            h = ((h ^ ord(c)) * 0x01000193) & 0xFFFFFFFF
    return f"{len(shards)}:{h:08x}"


def split_name(path):
    slash = path.rfind("/")
    dot = path.find(".", slash + 1)
    if dot <= slash + 1 or dot == len(path) - 1:
        return None
    return path[:dot], path[dot + 1:].lower()


class ShardGroups:
    """Consecutive tar entries with one key, as groups; damage ends the shard (kept in `failure`)."""

    def __init__(self, path, max_image_bytes):
        self.failure = None
        self.max_image_bytes = max_image_bytes
        self.started = 0
        self.building = None
        try:
            self.tar = tarfile.open(path, mode="r|")
            self.members = iter(self.tar)
        except (OSError, tarfile.TarError) as err:
            self.failure = "shard_failed" if isinstance(err, OSError) else _classify(err)
            self.members = iter(())
            self.tar = None

    def next(self, read=lambda index: True):
        complete = None
        try:
            for entry in self.members:
                name = split_name(entry.name)
                if not entry.isfile() or not name:
                    continue
                key, ext = name
                if self.building is None or self.building["key"] != key:
                    complete = self.building
                    self.building = {"key": key, "index": self.started, "files": {}, "too_large": False}
                    self.started += 1
                g = self.building
                too_large = ext in IMAGE_EXTENSIONS and entry.size > self.max_image_bytes
                g["too_large"] = g["too_large"] or too_large
                if read(g["index"]) and not too_large and ext in READ_EXTENSIONS and ext not in g["files"]:
                    g["files"][ext] = self.tar.extractfile(entry).read()
                if complete:
                    return complete
            complete, self.building = self.building, None
            return complete
        except (OSError, tarfile.TarError, EOFError) as err:
            self.failure = _classify(err)
            self.building = None
            self.members = iter(())
            return complete

    def close(self):
        if self.tar is not None:
            self.tar.close()


def _classify(err):
    message = str(err).lower()
    if "checksum" in message:
        return "bad_checksum"
    if "unexpected end" in message or "truncated" in message:
        return "truncated_shard"
    return "bad_tar"


def _text(raw):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _limit(text, limit, notes):
    if len(text) <= limit:
        return text
    notes.append("caption_truncated")
    return text[:limit]


def to_sample(group, shard, max_caption_chars):
    """(sample, notes) or (reason, []) as src/data/webdataset/sample.ts toSample."""
    image = next((ext for ext in IMAGE_EXTENSIONS if ext in group["files"]), None)
    if image is None:
        return ("image_too_large" if group["too_large"] else "missing_image"), []
    files, notes = group["files"], []
    web = _text(files["txt"]) if "txt" in files else ""
    if web is None:
        return "bad_utf8", []
    web = web.strip()
    meta = {}
    if "json" in files:
        try:
            parsed = json.loads(files["json"].decode("utf-8"))
            if isinstance(parsed, dict):
                meta = parsed
            else:
                notes.append("bad_json")
        except (UnicodeDecodeError, ValueError):
            notes.append("bad_json")
    synthetic = None
    if "syn.txt" in files:
        synthetic = _text(files["syn.txt"])
        if synthetic is None:
            return "bad_utf8", []
        synthetic = synthetic.strip()
    elif isinstance(meta.get("synthetic_caption"), str):
        synthetic = meta["synthetic_caption"].strip()
    if not web and not synthetic:
        return "missing_caption", []
    synthetic = _limit(synthetic, max_caption_chars, notes) if synthetic else None
    web_caption = _limit(web, max_caption_chars, notes) if web else synthetic
    if not web:
        notes.append("web_caption_from_synthetic")
    sample = {"key": group["key"], "shard": shard, "index": group["index"], "image": files[image],
              "webCaption": web_caption, "syntheticCaption": synthetic}
    return sample, notes


class WebDataset:
    """The sample stream of src/data/webdataset/reader.ts, epochs without end, with its position."""

    def __init__(self, shards, seed=0, shuffle=0, shuffle_shards=False, open_shards=4, position=None,
                 max_caption_chars=1000, max_image_bytes=32 * 2**20, epochs=float("inf")):
        self.shards, self.seed, self.shuffle = list(shards), seed, shuffle
        self.shuffle_shards, self.open_shards, self.epochs = shuffle_shards, open_shards, epochs
        self.max_caption_chars, self.max_image_bytes = max_caption_chars, max_image_bytes
        self.fingerprint = fingerprint(self.shards)
        self.rng = Rng(seed)
        self.skipped = {r: 0 for r in SKIP_REASONS}
        self.epoch = self.next_in_order = self.turn = self.samples = 0
        self.order = None
        self.open, self.buffer, self.failed = [], [], set()
        self.barren, self.pulled_since_epoch_end = 0, False
        if position is not None:
            self._check(position)
            self._resume(position)
        while len(self.open) < self.open_shards:
            shard = self._open_next()
            if shard is None:
                break
            self.open.append(shard)

    def __iter__(self):
        return self

    def __next__(self):
        held = self._take()
        if held is None:
            raise StopIteration
        self.samples += 1
        return held["sample"]

    def position(self):
        return {
            "version": 1, "shards": self.fingerprint, "seed": self.seed, "shuffle": self.shuffle,
            "shuffleShards": self.shuffle_shards, "openShards": self.open_shards, "epoch": self.epoch,
            "next": self.next_in_order,
            "open": [[o["shard"], o["read"], 1 if o["first"] else 0] for o in self.open],
            "turn": self.turn,
            "buffer": [[h["shard"], h["sample"]["index"], 1 if h["first"] else 0] for h in self.buffer],
            "rng": self.rng.state, "samples": self.samples, "skipped": dict(self.skipped),
        }

    def close(self):
        for o in self.open:
            o["groups"].close()
        self.open, self.buffer = [], []

    def _take(self):
        if self.shuffle <= 1:
            return self._pull()
        while len(self.buffer) < self.shuffle:
            held = self._pull()
            if held is None:
                break
            self.buffer.append(held)
        if not self.buffer:
            return None
        j = self.rng.int(len(self.buffer))
        out = self.buffer[j]
        self.buffer[j] = self.buffer[-1]
        self.buffer.pop()
        return out

    def _count(self, first, reason):
        if first:
            self.skipped[reason] += 1

    def _pull(self):
        while self.open:
            self.turn %= len(self.open)
            o = self.open[self.turn]
            group = o["groups"].next()
            if group is not None:
                o["read"] += 1
                sample, notes = to_sample(group, self.shards[o["shard"]], self.max_caption_chars)
                for note in notes:
                    self._count(o["first"], note)
                if isinstance(sample, str):
                    self._count(o["first"], sample)
                    continue
                self.turn += 1
                self.pulled_since_epoch_end = True
                return {"shard": o["shard"], "sample": sample, "first": o["first"]}
            failure = o["groups"].failure
            if failure:
                self._count(o["first"], failure)
            if failure == "shard_failed":
                self.failed.add(o["shard"])
            replacement = self._open_next()
            if replacement is not None:
                self.open[self.turn] = replacement
            else:
                self.open.pop(self.turn)
        return None

    def _open_next(self):
        while self.epoch < self.epochs:
            order = self._epoch_order(self.epoch)
            if self.next_in_order < len(order):
                shard = order[self.next_in_order]
                self.next_in_order += 1
                if shard in self.failed:
                    continue
                return self._open_shard(shard, self.epoch == 0)
            self.epoch += 1
            self.next_in_order = 0
            self.barren = 0 if self.pulled_since_epoch_end else self.barren + 1
            self.pulled_since_epoch_end = False
            if self.barren >= 2:
                return None
        return None

    def _open_shard(self, shard, first):
        return {"shard": shard, "groups": ShardGroups(self.shards[shard], self.max_image_bytes), "read": 0,
                "first": first}

    def _epoch_order(self, epoch):
        if self.order is None or self.order[0] != epoch:
            shards = list(range(len(self.shards)))
            if self.shuffle_shards:
                rng = Rng(((self.seed * 0x9E3779B1) + epoch + 1) & 0xFFFFFFFF)
                for i in range(len(shards) - 1, 0, -1):
                    j = rng.int(i + 1)
                    shards[i], shards[j] = shards[j], shards[i]
            self.order = (epoch, shards)
        return self.order[1]

    def _check(self, p):
        if p.get("version") != 1:
            raise ValueError(f'unknown WebDataset position version {p.get("version")}')
        expected = [("shards", p["shards"], self.fingerprint), ("seed", p["seed"], self.seed),
                    ("shuffle", p["shuffle"], self.shuffle), ("shuffleShards", p["shuffleShards"], self.shuffle_shards),
                    ("openShards", p["openShards"], self.open_shards)]
        differ = [f"{n} {json.dumps(a)} vs {json.dumps(b)}" for n, a, b in expected if a != b]
        if differ:
            raise ValueError("the data position was saved with other shards or options (saved vs now): "
                             + ", ".join(differ) + "; give the --data the run was started with")

    def _resume(self, p):
        wanted = {(s, i) for s, i, *_ in p["buffer"]}
        found = {}

        def first(flag):
            return p["epoch"] == 0 if flag is None else flag == 1

        def keep(shard, group):
            key = (shard, group["index"])
            if key in wanted and key not in found:
                sample, _ = to_sample(group, self.shards[shard], self.max_caption_chars)
                if not isinstance(sample, str):
                    found[key] = sample

        for shard, read, *flag in p["open"]:
            o = self._open_shard(shard, first(flag[0] if flag else None))
            while o["read"] < read:
                group = o["groups"].next(lambda i, s=shard, r=read: i >= r or (s, i) in wanted)
                if group is None:
                    break
                keep(shard, group)
                o["read"] += 1
            self.open.append(o)
        missing = {}
        for shard, index, *_ in p["buffer"]:
            if (shard, index) not in found:
                missing[shard] = max(index, missing.get(shard, -1))
        for shard, last in missing.items():
            groups = ShardGroups(self.shards[shard], self.max_image_bytes)
            group = groups.next(lambda i, s=shard: (s, i) in wanted)
            while group is not None:
                keep(shard, group)
                group = groups.next(lambda i, s=shard: (s, i) in wanted) if group["index"] < last else None
            groups.close()
        for shard, index, *flag in p["buffer"]:
            if (shard, index) in found:
                self.buffer.append({"shard": shard, "sample": copy.copy(found[(shard, index)]),
                                    "first": first(flag[0] if flag else None)})
        self.epoch, self.next_in_order, self.turn = p["epoch"], p["next"], p["turn"]
        self.rng.state = p["rng"]
        self.samples = p["samples"]
        self.skipped.update(p["skipped"])


class ShardSource:
    """Decoded examples from shards, and the engine's source position ({"kind": "shards"})."""

    def __init__(self, shards, seed, position=None, reading=TRAINING):
        if position is not None and position.get("kind") != "shards":
            raise ValueError(f'a {position.get("kind")} position cannot resume a shard dataset: give the '
                             "--data the run was trained on")
        self.dataset = WebDataset(shards, seed=seed, position=position and position["position"], **reading)
        self.undecodable = set(position.get("undecodable", [])) if position else set()

    def next(self, n):
        out = []
        while len(out) < n:
            try:
                s = next(self.dataset)
            except StopIteration:
                break
            key = f'{s["shard"]}#{s["index"]}'
            try:
                image = decode(s["image"])
            except ImageError:
                if key not in self.undecodable:
                    self.dataset.skipped["bad_image"] += 1
                self.undecodable.add(key)
                continue
            out.append({"key": s["key"], "image": image, "webCaption": s["webCaption"],
                        "syntheticCaption": s["syntheticCaption"] or s["webCaption"]})
        return out

    def position(self):
        return {"kind": "shards", "position": self.dataset.position(), "undecodable": sorted(self.undecodable)}
