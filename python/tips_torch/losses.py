"""The TIPS objective on one batch, as src/tips/loss.ts (the CLIP, DINO and iBOT terms): CLIP on
both CLS tokens of the unmasked global crop, iBOT on the masked one, DINO on the local crops'
CLS against the teacher's global CLS; teacher targets by Sinkhorn-Knopp or a running centre."""
import torch
import torch.nn.functional as F

from .model import CLIP_EPS

SINKHORN_ITERATIONS = 3


@torch.no_grad()
def sinkhorn_log_targets(logits, tau, iterations=SINKHORN_ITERATIONS):
    """log q for teacher logits [R, K]: rows of q sum to 1, equal mass per prototype."""
    q = logits / tau
    for _ in range(iterations):
        q = q - q.logsumexp(0, keepdim=True)
        q = q - q.logsumexp(1, keepdim=True)
    return q


def distill(student, teacher, centre, tau_student, tau_teacher, centring):
    """Per-row cross-entropy; student row r against teacher row r mod T."""
    with torch.no_grad():
        if centring == "centre":
            targets = F.softmax((teacher - centre) / tau_teacher, -1)
        else:
            targets = sinkhorn_log_targets(teacher, tau_teacher).exp()
        targets = targets.repeat(student.shape[0] // teacher.shape[0], 1)
    return -(targets * F.log_softmax(student / tau_student, -1)).sum(-1)


def clip_loss(image, text, log_scale):
    sim = F.normalize(image, dim=-1, eps=CLIP_EPS) @ F.normalize(text, dim=-1, eps=CLIP_EPS).T
    logits = log_scale.exp() * sim
    labels = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def tips_loss(student, teacher, batch, options, tau_teacher, centres):
    """Returns (total, terms, teacher logits): terms maps each term whose weight is above 0 to
    its value; the teacher's CLS and patch logits are for the centre update ("centre" only).
    batch: global [B,3,S,S], local [M*B,3,s,s] (crop-major), masks [B,N,1], mim_weights [B*N],
    web and syn [B, L] token ids."""
    w = options["weights"]
    k = teacher.dino_head.last_layer.weight.shape[0]
    centring = options["centring"]
    tau_student, tau_patch = 0.1, 0.07
    syn_token = 0 if options.get("captions") == "multi" else 1
    terms = {}
    if w["web"] > 0 or w["syn"] > 0:
        cls = student.vision(batch["global"])
        if w["web"] > 0:
            terms["web"] = clip_loss(cls[0], student.text(batch["web"]), student.logit_scale)
        if w["syn"] > 0:
            terms["syn"] = clip_loss(cls[syn_token], student.text(batch["syn"]), student.logit_scale)
    with torch.no_grad():
        t_cls, _, t_patches = teacher.vision(batch["global"])
        t_dino = teacher.dino_head(t_cls)
        t_ibot = teacher.ibot_head(t_patches).reshape(-1, k)
    if w["dino"] > 0:
        local_cls = student.vision(batch["local"])[0]
        ce = distill(student.dino_head(local_cls), t_dino, centres[0], tau_student, tau_teacher, centring)
        terms["dino"] = ce.mean()
    if w["mim"] > 0:
        patches = student.vision(batch["global"], batch["masks"])[2]
        ce = distill(student.ibot_head(patches).reshape(-1, k), t_ibot, centres[1], tau_student, tau_patch,
                     centring)
        terms["mim"] = (ce * batch["mim_weights"]).sum()
    total = sum(w[name] * value for name, value in terms.items())
    return total, terms, (t_dino, t_ibot)
