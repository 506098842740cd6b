"""FSDP for the presets that do not fit one GPU with DDP (needs torch >= 2.0): the student's
parameters, gradients and AdamW moments sharded over the ranks (one unit per transformer block
and head), the EMA teacher whole on every rank (it has no gradients or moments)."""
import torch
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

from .model import ProjectionHead, TextBlock, VitBlock, engine_name, torch_name


def wrap(student, device):
    """The student sharded (train.check_fsdp has made sure this torch can)."""
    from torch.distributed.fsdp.wrap import ModuleWrapPolicy

    return FSDP(student, auto_wrap_policy=ModuleWrapPolicy({VitBlock, TextBlock, ProjectionHead}),
                use_orig_params=True, device_id=device if device.type == "cuda" else None)


def full_params(model, writeback):
    """Every rank sees the student's whole parameters inside this context; with `writeback`,
    what is written to them is kept."""
    return FSDP.summon_full_params(model, writeback=writeback)


def full_moments(model, optimizer, params):
    """(m, v) for params [(engine name, whole parameter)], gathered whole on every rank."""
    state = {engine_name(n): s for n, s in FSDP.optim_state_dict(model, optimizer)["state"].items()}
    m, v = [], []
    for name, p in params:
        s = state.get(name, {})
        m.append(s.get("exp_avg", torch.zeros(p.shape)).cpu())
        v.append(s.get("exp_avg_sq", torch.zeros(p.shape)).cpu())
    return m, v


def load_moments(model, optimizer, by_name, step):
    """Shards the whole moments by_name {engine name: (m, v)} into this rank's optimiser state."""
    full = FSDP.optim_state_dict(model, optimizer)
    full["state"] = {}
    for n, _ in model.named_parameters():
        m, v = by_name[engine_name(n)]
        full["state"][torch_name(n)] = {"step": torch.tensor(float(step)), "exp_avg": m, "exp_avg_sq": v}
    optimizer.load_state_dict(FSDP.optim_state_dict_to_load(model=model, optim=optimizer, optim_state_dict=full))
