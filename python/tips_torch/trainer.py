"""The TIPS training step, as src/train/trainer.ts takes it: crops -> student and teacher forward ->
loss -> backward (accumulated over micro-batches; under DDP each rank's micro-batches, gradients
averaged over ranks) -> global-norm clipping + AdamW (skipped when a gradient is not finite) ->
logit scale clamped at ln 100 -> EMA teacher -> teacher centres ("centre" targets)."""
import contextlib
import math

import torch
import torch.distributed as dist

from .checkpoint import load_model, moments, named, write_checkpoint
from .config import check_supported
from .losses import tips_loss
from .model import MAX_LOG_LOGIT_SCALE, Tips, decays
from .rng import Rng
from .schedule import learning_rate, teacher_momentum, teacher_temperature

TERMS = ["web", "syn", "dino", "mim"]
CENTRE_MOMENTUM = 0.9


def crop_rng(seed, rank):
    """The crops' generator: the engine's (Rng(seed).fork()) on rank 0, a stream of its own on others."""
    rng = Rng(seed)
    for _ in range(rank):
        rng.fork()
    return rng.fork()


class Trainer:
    def __init__(self, config, options, device="cpu", parallel=None):
        """parallel: None, "ddp" or "fsdp" (the process group must be initialised for both)."""
        check_supported(options)
        self.config, self.options, self.device = config, options, torch.device(device)
        self.world = dist.get_world_size() if parallel else 1
        self.rank = dist.get_rank() if parallel else 0
        torch.manual_seed(options["seed"])
        self.student = Tips(config).to(self.device)
        self.teacher = Tips(config, teacher=True).to(self.device)
        self.teacher.requires_grad_(False)
        student = dict(named(self.student))
        with torch.no_grad():
            for name, p in named(self.teacher):
                p.copy_(student[name])
        k = config["head"]["prototypes"]
        self.centres = torch.zeros(2, k, device=self.device)
        self.rng = crop_rng(options["seed"], self.rank)
        self.step = 0
        self.adam_step = 0
        self.parallel = parallel
        # Grouped before wrapping: FSDP keeps the parameter objects but shows them flattened.
        params = list(self.student.named_parameters())
        groups = [{"params": [p for n, p in params if decays(n, p)], "weight_decay": options["weightDecay"]},
                  {"params": [p for n, p in params if not decays(n, p)], "weight_decay": 0.0}]
        self.model = self._wrap(parallel)
        self.optimizer = torch.optim.AdamW(groups, lr=options["schedule"]["lr"], betas=(0.9, 0.999), eps=1e-8)

    def _wrap(self, parallel):
        if parallel is None:
            return self.student
        unused = any(self.options["weights"][t] <= 0 for t in TERMS)
        if parallel == "ddp":
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            return DistributedDataParallel(self.student, device_ids=ids, find_unused_parameters=unused)
        from . import fsdp

        return fsdp.wrap(self.student, self.device)

    def load(self, ckpt, path):
        """Continues the run of a checkpoint (read_checkpoint): model, moments, steps, crop RNG."""
        with self._full_params(writeback=True):
            load_model(ckpt, self.student, self.teacher, self.centres, path)
        m, v = moments(ckpt, self.student)
        self.step, self.adam_step = ckpt["state"]["step"], ckpt["state"]["adamStep"]
        by_name = {n: (mi, vi) for (n, _), mi, vi in zip(named(self.student), m, v)}
        if self.parallel == "fsdp":
            from . import fsdp

            fsdp.load_moments(self.model, self.optimizer, by_name, self.adam_step)
        else:
            for name, p in named(self.student):
                mi, vi = by_name[name]
                self.optimizer.state[p] = {"step": torch.tensor(float(self.adam_step)),
                                           "exp_avg": mi.to(self.device), "exp_avg_sq": vi.to(self.device)}
        torch_state = ckpt["state"].get("torch") or {}
        if torch_state.get("world") == self.world:
            self.rng.state = torch_state["rng"][self.rank]
        elif self.rank == 0:
            self.rng.state = ckpt["state"]["rng"]

    def moments(self):
        """(m, v): full AdamW moments per student parameter, in named(student) order."""
        if self.parallel == "fsdp":
            from . import fsdp

            with self._full_params():
                shapes = [(n, torch.empty(p.shape)) for n, p in named(self.student)]
            return fsdp.full_moments(self.model, self.optimizer, shapes)
        zeros = [torch.zeros_like(p) for _, p in named(self.student)]
        m = [self.optimizer.state.get(p, {}).get("exp_avg", z) for (_, p), z in zip(named(self.student), zeros)]
        v = [self.optimizer.state.get(p, {}).get("exp_avg_sq", z) for (_, p), z in zip(named(self.student), zeros)]
        return m, v

    def save(self, path, info, rngs, sources):
        """rngs and sources: every rank's crop RNG state and data position (rank 0's go where the
        engine reads them)."""
        m, v = self.moments()
        with self._full_params():
            if self.rank == 0:
                state = {"step": self.step, "adamStep": self.adam_step, "rng": rngs[0],
                         "source": sources[0] if self.world == 1 else None,
                         "torch": {"world": self.world, "rng": rngs, "sources": sources}}
                write_checkpoint(path, self.student, self.teacher, self.centres, m, v, {**info, "state": state})

    def _full_params(self, writeback=False):
        """The student's whole parameters inside this context (FSDP gathers them)."""
        if self.parallel == "fsdp":
            from . import fsdp

            return fsdp.full_params(self.model, writeback)
        return contextlib.nullcontext()

    def _mean(self, t):
        if self.parallel:
            dist.all_reduce(t)
            t /= self.world
        return t

    def train_step(self, micro_batches):
        """One optimiser step on this rank's micro-batches; returns the step's metrics (loss
        terms averaged over micro-batches and ranks)."""
        o, s = self.options, self.options["schedule"]
        lr, momentum = learning_rate(s, self.step), teacher_momentum(s, self.step)
        tau = teacher_temperature(s, self.step)
        self.optimizer.zero_grad(set_to_none=False)
        sums = torch.zeros(1 + len(TERMS), device=self.device)
        count = len(micro_batches)
        for a, batch in enumerate(micro_batches):
            last = a == count - 1
            sync = contextlib.nullcontext() if last or not self.parallel else self.model.no_sync()
            with sync:
                total, terms, teacher_logits = self.model(tips_loss, self.teacher, batch, o, tau, self.centres)
                (total / count).backward()
            with torch.no_grad():
                if o["centring"] == "centre":
                    for i, logits in enumerate(teacher_logits):
                        mean = self._mean(logits.mean(0))
                        self.centres[i].mul_(CENTRE_MOMENTUM).add_(mean, alpha=1 - CENTRE_MOMENTUM)
                sums += torch.stack([total.detach()] + [terms[t].detach() if t in terms else total.new_zeros(())
                                                        for t in TERMS])
        for p in self.model.parameters():
            if p.grad is None:  # a part no term read: the engine still decays it and its moments
                p.grad = torch.zeros_like(p)
        grad_norm = self._clip(o["maxGradNorm"])
        self.adam_step += 1
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if math.isfinite(grad_norm):
            self.optimizer.step()
        else:  # the engine still counts the step for AdamW's bias correction
            for state in self.optimizer.state.values():
                state["step"] += 1
        with torch.no_grad():
            self.student.logit_scale.clamp_(0, MAX_LOG_LOGIT_SCALE)
            self._ema(momentum)
        values = self._mean(sums / count).tolist()
        self.step += 1
        loss = {"total": values[0]}
        loss.update({t: values[1 + i] for i, t in enumerate(TERMS) if o["weights"][t] > 0})
        return {"step": self.step - 1, "loss": loss, "lr": lr, "momentum": momentum, "teacherTemp": tau,
                "gradNorm": grad_norm, "skipped": not math.isfinite(grad_norm)}

    def _clip(self, max_norm):
        limit = max_norm if max_norm > 0 else float("inf")
        if self.parallel == "fsdp":
            return float(self.model.clip_grad_norm_(limit))
        return float(torch.nn.utils.clip_grad_norm_(self.student.parameters(), limit))

    def _ema(self, momentum):
        with self._full_params():
            student = dict(named(self.student))
            for name, t in named(self.teacher):
                t.mul_(momentum).add_(student[name].detach(), alpha=1 - momentum)

