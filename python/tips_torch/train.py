"""Trains TIPS with PyTorch on WebDataset shards, one process per GPU:

  PYTHONPATH=python torchrun --nproc-per-node N -m tips_torch.train --preset P --data SHARDS \\
      --steps S --batch B --out FILE.safetensors [--accumulate A] [--resume FILE] [--fsdp]

B is the batch of one optimiser step over all processes: each of the N processes reads its own
shards (every N-th of the list) and takes B / N examples a step, in A micro-batches. The
checkpoint is ours (.safetensors): `tips train --resume`, `tips embed` and the app read it, and
--resume takes one written by `tips train`. See docs/scaling.md."""
import argparse
import os
import sys
import time

import torch
import torch.distributed as dist

from .checkpoint import CheckpointError, read_checkpoint
from .config import preset, trainer_options
from .trainer import Trainer
from .views import make_batch, to_device
from .vocab import Vocabulary
from .webdataset import ShardSource, WebDataset, resolve_shards

VOCABULARY_SAMPLES = 5000


class UsageError(Exception):
    pass


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m tips_torch.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", help="model preset of a new run (default tips-micro)")
    p.add_argument("--data", help="shards: .tar files, a brace pattern, a folder (default: the resumed run's)")
    p.add_argument("--steps", type=int, help="optimiser steps of the whole run")
    p.add_argument("--batch", type=int, help="examples per optimiser step, over all processes")
    p.add_argument("--accumulate", type=int, help="micro-batches per process and step (default 1)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of a new run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="checkpoint to write (default: the resumed file)")
    p.add_argument("--resume", help="a checkpoint of `tips train` or of this command to continue")
    p.add_argument("--save-every", type=int, default=500, help="steps between checkpoints (0: at the end only)")
    p.add_argument("--fsdp", action="store_true", help="shard the model over the processes (torch >= 2.0)")
    p.add_argument("--device", choices=["cuda", "cpu"], help="default: cuda when there is a GPU")
    return p.parse_args(argv)


def check_fsdp():
    """--fsdp needs torch >= 2.0 (FSDP.optim_state_dict); torch 1.13's FSDP does not even import
    on Python 3.11 (a dataclass error inside torch)."""
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    except Exception as err:  # whatever torch raises there, the advice is the same
        FSDP, cause = None, f"its FSDP does not load: {type(err).__name__}"
    else:
        cause = "its FSDP lacks optim_state_dict"
    if FSDP is None or not hasattr(FSDP, "optim_state_dict"):
        raise UsageError(f"--fsdp needs PyTorch 2.0 or newer; this is {torch.__version__} ({cause}): "
                         "train with DDP (leave out --fsdp), or install a newer torch")


def setup(args):
    """(device, parallel): one process per GPU under torchrun, NCCL on GPUs and gloo on CPUs."""
    if args.fsdp:
        check_fsdp()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if device == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if world == 1 and not args.fsdp:
        return device, None
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return device, "fsdp" if args.fsdp else "ddp"


def plan(args, world):
    """(config, options, tokenizer JSON or None, checkpoint or None, data spec)."""
    ckpt = None
    if args.resume:
        try:
            ckpt = read_checkpoint(args.resume)
        except CheckpointError as err:
            raise UsageError(f"--resume {args.resume}: {err}") from None
        config, options = ckpt["config"], ckpt["options"]
        if args.preset:
            raise UsageError("--preset is for new runs: a resumed run keeps its checkpoint's model")
        if args.steps is not None:
            options["steps"] = options["schedule"]["steps"] = args.steps
        if ckpt["state"]["step"] >= options["steps"]:
            raise UsageError(f'{args.resume} already finished at step {ckpt["state"]["step"]} of {options["steps"]}: '
                             "give a larger --steps to train it further")
        if args.batch is not None and args.batch != options["batch"]:
            raise UsageError(f'--batch {args.batch}: a resumed run keeps its batch of {options["batch"]}')
        per_rank = options["accumulate"] // world if options["accumulate"] % world == 0 else 1
        accumulate = args.accumulate or max(1, per_rank)
        data = args.data or ckpt["notes"].get("data")
        if not data or data in ("scenes", "openmoji"):
            raise UsageError(f"{args.resume} was trained on {data or 'unknown data'}: give --data SHARDS")
    else:
        for flag in ("data", "steps", "batch", "out"):
            if getattr(args, flag) is None:
                raise UsageError(f"--{flag} is needed for a new run (see --help)")
        config = preset(args.preset or "tips-micro")
        accumulate = args.accumulate or 1
        options = trainer_options(args.steps, args.batch, accumulate * world, args.lr, args.seed)
        data = args.data
    if options["batch"] % (world * accumulate):
        raise UsageError(f'--batch {options["batch"]} is not a multiple of {world} processes x {accumulate} '
                         "micro-batches")
    micro = options["batch"] // (world * accumulate)
    if micro < 2:
        raise UsageError(f"{micro} example per micro-batch: the contrastive terms need at least 2 "
                         "(raise --batch or lower --accumulate)")
    options["accumulate"] = accumulate * world
    return config, options, ckpt, data, accumulate


def rank_shards(shards, rank, world):
    if len(shards) < world:
        raise UsageError(f"{len(shards)} shards for {world} processes: each process reads its own shards, "
                         f"so give at least {world}")
    return shards[rank::world] if world > 1 else shards


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    device, parallel = setup(args)
    world = dist.get_world_size() if parallel else 1
    rank = dist.get_rank() if parallel else 0
    config, options, ckpt, data, accumulate = plan(args, world)
    shards = resolve_shards(data)
    for path in shards:
        if not os.path.isfile(path):
            raise UsageError(f"--data: shard {path} is not a file (tips_torch reads local shards)")
    if ckpt:
        tokenizer = Vocabulary.from_json(ckpt["tokenizer"])
    else:
        captions = []
        for s in WebDataset(shards, epochs=1):
            captions += [s["webCaption"], s["syntheticCaption"] or ""]
            if len(captions) >= 2 * VOCABULARY_SAMPLES:
                break
        tokenizer = Vocabulary.build(captions, config["text"]["vocabSize"])
    trainer = Trainer(config, options, device, parallel)
    position = None
    if ckpt:
        trainer.load(ckpt, args.resume)
        saved = ckpt["state"].get("torch") or {}
        if saved.get("world") == world:
            position = saved["sources"][rank]
        elif world == 1:
            position = ckpt["state"].get("source")
    source = ShardSource(rank_shards(shards, rank, world), options["seed"] + rank if world > 1 else options["seed"],
                         position)
    out = args.out or args.resume
    per_rank = options["batch"] // world
    micro = per_rank // accumulate
    if rank == 0:
        count = sum(p.numel() for p in trainer.student.parameters()) if parallel != "fsdp" else None
        size = f"{count / 1e6:.2f}M parameters, " if count else ""
        print(f'{config["name"]}: {size}{world} process(es) on {device} ({parallel or "single"}), data {data}, '
              f'batch {options["batch"]} ({accumulate} x {micro} per process), steps {trainer.step}..{options["steps"]}, '
              f"checkpoint {out}", flush=True)
    info = {"config": config, "options": options, "tokenizer": tokenizer.to_json(), "notes": {"data": data}}
    metrics = None
    started = time.time()
    first = trainer.step
    while trainer.step < options["steps"]:
        examples = source.next(per_rank)
        if len(examples) < per_rank:
            raise UsageError(f"the shards ran out of decodable samples on process {rank}")
        batches = [to_device(make_batch(examples[a * micro:(a + 1) * micro], config, trainer.rng, options["views"],
                                        tokenizer), device) for a in range(accumulate)]
        metrics = trainer.train_step(batches)
        if rank == 0:
            terms = " ".join(f"{k} {v:.4f}" for k, v in metrics["loss"].items())
            rate = (trainer.step - first) * options["batch"] / (time.time() - started)
            print(f'step {metrics["step"] + 1}/{options["steps"]} {terms} lr {metrics["lr"]:.2e} '
                  f"{rate:.1f} examples/s", flush=True)
        if (args.save_every and trainer.step % args.save_every == 0) or trainer.step == options["steps"]:
            save(trainer, out, info, source, metrics, parallel)
    if parallel:
        dist.barrier()
        # torch 1.13's gloo process group can deadlock in its destructor when DDP's reducer lets
        # go of it (the main thread joins a worker thread that waits for the GIL): the checkpoint
        # is written and closed, so a DDP process leaves without Python's teardown.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def save(trainer, out, info, source, metrics, parallel):
    rngs, sources = [trainer.rng.state], [source.position()]
    if parallel:
        rngs, sources = [None] * trainer.world, [None] * trainer.world
        dist.all_gather_object(rngs, trainer.rng.state)
        dist.all_gather_object(sources, source.position())
    info = {**info, "notes": {**info["notes"], "loss": metrics["loss"]}}
    trainer.save(out, info, rngs, sources)
    if trainer.rank == 0:
        print(f"saved {out} at step {trainer.step}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except UsageError as err:
        print(f"tips_torch.train: {err}", file=sys.stderr)
        sys.exit(2)
