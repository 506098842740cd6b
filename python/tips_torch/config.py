"""Model presets and training defaults, as src/tips/config.ts, src/tips/loss.ts,
src/train/trainer.ts, src/train/views.ts and src/train/schedule.ts define them. Configurations are
the engine's JSON objects (camelCase keys), so a checkpoint header's config is used as it is."""
import copy
import math


def _vision(width, depth, heads, mlp_hidden, ffn="mlp"):
    return {
        "imageSize": 448,
        "patchSize": 14,
        "posGrid": 32,
        "width": width,
        "depth": depth,
        "heads": heads,
        "mlpHidden": mlp_hidden,
        "ffn": ffn,
        "eps": 1e-6,
        "layerScale": 1e-5,
        "initStd": 0.02,
    }


def _text(width, depth, heads, mlp_hidden):
    return {"vocabSize": 32000, "maxLength": 64, "width": width, "depth": depth, "heads": heads,
            "mlpHidden": mlp_hidden, "eps": 1e-5}


_OFFICIAL_HEAD = {"prototypes": 65536, "hidden": 2048, "bottleneck": 256}
_OFFICIAL_VIEWS = {"localCrops": 6, "localSize": 98, "maskRatio": [0.1, 0.5]}

PRESETS = {
    "tips-test": {
        "name": "tips-test",
        "vision": {"imageSize": 16, "patchSize": 4, "posGrid": 4, "width": 32, "depth": 2, "heads": 2,
                   "mlpHidden": 64, "ffn": "mlp", "eps": 1e-6, "layerScale": 0.1, "initStd": 1 / math.sqrt(32)},
        "text": {"vocabSize": 64, "maxLength": 8, "width": 32, "depth": 1, "heads": 2, "mlpHidden": 64, "eps": 1e-5},
        "head": {"prototypes": 32, "hidden": 48, "bottleneck": 16},
        "views": {"localCrops": 2, "localSize": 8, "maskRatio": [0.1, 0.5]},
    },
    "tips-micro": {
        "name": "tips-micro",
        "vision": {"imageSize": 64, "patchSize": 8, "posGrid": 8, "width": 192, "depth": 6, "heads": 3,
                   "mlpHidden": 768, "ffn": "mlp", "eps": 1e-6, "layerScale": 0.1,
                   "initStd": 1 / math.sqrt(192)},
        "text": {"vocabSize": 2048, "maxLength": 32, "width": 192, "depth": 4, "heads": 3, "mlpHidden": 768,
                 "eps": 1e-5},
        "head": {"prototypes": 1024, "hidden": 512, "bottleneck": 128},
        "views": {"localCrops": 6, "localSize": 32, "maskRatio": [0.1, 0.5]},
    },
    "tips-s14": {"name": "tips-s14", "vision": _vision(384, 12, 6, 1536), "text": _text(384, 12, 6, 1536),
                 "head": _OFFICIAL_HEAD, "views": _OFFICIAL_VIEWS},
    "tips-b14": {"name": "tips-b14", "vision": _vision(768, 12, 12, 3072), "text": _text(768, 12, 12, 3072),
                 "head": _OFFICIAL_HEAD, "views": _OFFICIAL_VIEWS},
    "tips-l14": {"name": "tips-l14", "vision": _vision(1024, 24, 16, 4096), "text": _text(1024, 12, 16, 4096),
                 "head": _OFFICIAL_HEAD, "views": _OFFICIAL_VIEWS},
    "tips-so400m14": {"name": "tips-so400m14", "vision": _vision(1152, 27, 16, 4304),
                      "text": _text(1152, 27, 16, 4304), "head": _OFFICIAL_HEAD, "views": _OFFICIAL_VIEWS},
    "tips-g14": {"name": "tips-g14", "vision": _vision(1536, 40, 24, 4096, "swiglu"),
                 "text": _text(1536, 12, 24, 6144), "head": _OFFICIAL_HEAD, "views": _OFFICIAL_VIEWS},
}


def preset(name):
    if name not in PRESETS:
        raise ValueError(f'unknown preset "{name}"; choose one of: {", ".join(PRESETS)}')
    return copy.deepcopy(PRESETS[name])


def default_schedule(steps, lr):
    """src/train/schedule.ts defaultSchedule (JS Math.round: halves round up)."""
    return {
        "steps": steps,
        "warmupSteps": min(math.floor(steps / 10 + 0.5), 1000),
        "lr": lr,
        "minLr": lr / 100,
        "momentum": [0.996, 1],
        "teacherTemp": [0.04, 0.07],
        "teacherTempSteps": math.floor(steps / 3 + 0.5),
    }


def trainer_options(steps=1000, batch=32, accumulate=1, lr=1e-3, seed=0):
    """The options a new run of `tips train` has (src/train/trainer.ts trainerOptions, the CLI's
    Sinkhorn targets and full teacher), without the config."""
    return {
        "seed": seed,
        "batch": batch,
        "accumulate": accumulate,
        "steps": steps,
        "weights": {"web": 1, "syn": 1, "dino": 1, "mim": 1, "sparc": 0, "rils": 0},
        "centring": "sinkhorn",
        "sparc": {"caption": "syn", "temperature": 0.07},
        "rils": {"caption": "syn", "tauStudent": 0.1, "tauTeacher": 0.05},
        "captions": "dual",
        "teacher": "full",
        "views": {"globalScale": [0.32, 1], "localScale": [0.05, 0.32], "mimAllPatches": False,
                  "maskProbability": 0.5},
        "schedule": default_schedule(steps, lr),
        "weightDecay": 0.05,
        "maxGradNorm": 3,
    }


def check_supported(options):
    """What this package does not train (yet) says so in one line instead of training otherwise."""
    w = options["weights"]
    if w.get("sparc", 0) > 0 or w.get("rils", 0) > 0:
        raise ValueError("SPARC and RILS terms are not in tips_torch: train them with `tips train`, "
                         "or set their weights to 0")
    if options.get("teacher", "full") != "full":
        raise ValueError('only the full EMA teacher is in tips_torch; the run uses "heads": '
                         "continue it with `tips train`")
    if options.get("captions", "dual") == "sample":
        raise ValueError('the "sample" caption recipe is not in tips_torch: use "dual" or "multi"')
