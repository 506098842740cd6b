"""(c) Two processes under DDP (gloo), each with half the batch, take the same steps as one
process with the whole batch in two micro-batches (gradient accumulation)."""
import datetime
import os
import socket
import sys
import tempfile
import time
import unittest

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tips_torch.checkpoint import named
from tips_torch.config import preset, trainer_options
from tips_torch.rng import Rng
from tips_torch.trainer import Trainer
from tips_torch.views import make_batch
from tips_torch.vocab import Vocabulary

STEPS = 3
CONFIG = preset("tips-test")
OPTIONS = trainer_options(steps=STEPS, batch=4, accumulate=2)
# Three tips-test steps take seconds; the limit only turns a hang into a failure.
JOIN_SECONDS = 300


def batches():
    """STEPS x 2 micro-batches of 2 examples: noise images with captions."""
    generator = torch.Generator().manual_seed(0)
    words = ["red", "green", "blue", "circle", "square", "star"]
    examples = [{"image": torch.randint(0, 256, (20 + i % 3 * 4, 24, 3), dtype=torch.uint8, generator=generator),
                 "webCaption": f"a {words[i % 3]} {words[3 + i % 4 % 3]}",
                 "syntheticCaption": f"{words[3 + i % 3]} on noise, {words[i % 3]}"} for i in range(4 * STEPS)]
    vocab = Vocabulary.build([e["webCaption"] for e in examples], CONFIG["text"]["vocabSize"])
    rng = Rng(1)
    return [[make_batch(examples[4 * s + 2 * a:4 * s + 2 * a + 2], CONFIG, rng, OPTIONS["views"], vocab)
             for a in range(2)] for s in range(STEPS)]


def ddp_worker(rank, port, data, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    # A failure, not a hang, if the rendezvous port was taken meanwhile.
    dist.init_process_group("gloo", rank=rank, world_size=2, timeout=datetime.timedelta(seconds=120))
    trainer = Trainer(CONFIG, OPTIONS, "cpu", "ddp")
    losses = [trainer.train_step([step[rank]])["loss"] for step in data]
    if rank == 0:
        torch.save({"losses": losses, "params": {n: p.detach() for n, p in named(trainer.student)}}, out)
    dist.barrier()
    # As in tips_torch.train: torch 1.13's gloo process group can deadlock in its destructor, so
    # a worker leaves without Python's teardown once its results are written.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def spawn_and_wait(worker, args, nprocs, seconds):
    """mp.spawn with a deadline: a worker that hangs fails the test instead of the whole run."""
    context = mp.start_processes(worker, args=args, nprocs=nprocs, join=False, start_method="spawn")
    deadline = time.monotonic() + seconds
    while not context.join(timeout=5):
        if time.monotonic() > deadline:
            for p in context.processes:
                p.kill()
            raise AssertionError(f"the {nprocs} DDP processes did not finish within {seconds} s")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ddp(unittest.TestCase):
    def test_two_processes_equal_one_with_accumulation(self):
        data = batches()
        with tempfile.TemporaryDirectory() as folder:
            out = os.path.join(folder, "ddp.pt")
            spawn_and_wait(ddp_worker, (free_port(), data, out), 2, JOIN_SECONDS)
            ddp = torch.load(out)
        single = Trainer(CONFIG, OPTIONS)
        losses = [single.train_step(step)["loss"] for step in data]
        for step, (a, b) in enumerate(zip(ddp["losses"], losses)):
            for term in b:
                self.assertAlmostEqual(a[term], b[term], delta=1e-5, msg=f"step {step} {term}")
        for name, p in named(single.student):
            torch.testing.assert_close(ddp["params"][name], p.detach(), rtol=0, atol=1e-5, msg=name)


if __name__ == "__main__":
    unittest.main()
