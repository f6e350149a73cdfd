"""The paper's Table 6 search space and the choices training accepts, declared once.

Profiles are checked against these bounds when they are read (`profiles.load_profile`, `hanrock
config`) and every training config again before it trains (`training.TrainConfig.validate`); this
module imports nothing heavy, so reading a profile never imports torch.
"""

from __future__ import annotations

# hyper-parameter -> (lowest, highest) value a trial may take (Table 6; content size and batch size
# are whole numbers, batch size is also at most floor(1024 / (content_size + 1 + content_after)) in a search)
BOUNDS: dict[str, tuple[float, float]] = {
    "learning_rate": (2.0**-10, 2.0**-5),
    "l2": (0.0, 0.5),
    "dropout": (0.0, 0.5),
    "recurrent_dropout": (0.0, 0.5),
    "content_size": (0, 30),
    "batch_size": (1, 1024),
    "primary_weight": (0.0, 1.0),
}
INTEGER = ("content_size", "batch_size")

# the paper's search space (Table 6; the notes' batch size and primary weight): what a trial draws
# from unless its profile's `space:` narrows a range; BOUNDS above is what any value may be
PAPER_SPACE: dict[str, tuple[float, float]] = {
    "learning_rate": (2.0**-10, 2.0**-5),
    "batch_size": (32, 256),
    "l2": (0.0, 0.5),
    "content_size": (1, 30),
    "dropout": (0.01, 0.5),
    "recurrent_dropout": (0.01, 0.5),
    "primary_weight": (0.5, 0.99),
}

# setting -> the values training accepts
CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": ("sgd", "adam"),
    "sampler": ("dialogue", "shuffle", "chunks"),
    "compile": ("auto", "on", "off"),
    "class_weights": ("none", "balanced"),
    "gru": ("auto", "fused", "torch"),
    "lr_schedule": ("constant", "cosine", "plateau"),
}  # the loss weightings are loss_weighting.WEIGHTINGS: their registry holds the classes too


# the training settings a profile and a TrainConfig share, and their one default (a profile that leaves a key
# out gets this; the packaged profiles set every one)
TRAINING_DEFAULTS: dict[str, object] = {
    "embedding_dim": 32,  # small models (the paper: 300, set by profiles/paper.yaml)
    "optimizer": "adam",  # plain SGD (the paper's) needs hundreds of epochs at small sizes
    "epochs": 8,
    "sampler": "dialogue",
    "compile": "off",  # torch.compile the attention kernel: pays off for large models only
    "gru": "auto",
    "class_weights": "none",
    "patience": 0,
    "lr_schedule": "constant",
    "warmup_epochs": 0.0,
    "fusion_prior": False,
    "speaker_context": False,
    "content_after": 0,
    "word_dropout": 0.0,
    "head_dropout": 0.0,
}


# what a profile's other numbers may be: beyond these a study would not finish in any reasonable time, or
# would exhaust memory before its first trial (the paper's own values are well inside: 30 trials, 350 epochs,
# P + A = 257, embedding 300)
PROFILE_LIMITS: dict[str, tuple[float, float]] = {
    "content_after": (0, 30),
    "word_dropout": (0.0, 0.9),
    "head_dropout": (0.0, 0.9),
    "seed": (0, 2**31 - 1),
    "trials_per_condition": (2, 1000),
    "replicates": (0, 100),
    "epochs": (1, 10_000),
    "patience": (0, 10_000),
    "warmup_epochs": (0, 10_000),
    "capacity_total": (2, 4096),
    "default_primary_units": (1, 4095),
    "embedding_dim": (1, 4096),
    "min_count": (1, 1000),
    "h2_primary_units": (1, 4095),  # each choice of P (also capped by capacity_total - 1)
    "median_pruning.first_epoch": (0, 10_000),
    "median_pruning.every": (1, 10_000),
    "bootstrap.resamples": (100, 1_000_000),
    "bootstrap.seed": (0, 2**31 - 1),
}


def outside(name: str, value: float) -> str | None:
    """Why `value` is not allowed for hyper-parameter `name` (None: it is)."""
    low, high = BOUNDS[name]
    if low <= value <= high:
        return None
    shown = {"learning_rate": "[2^-10, 2^-5]"}.get(name, f"[{low:g}, {high:g}]")
    return f"{name} {value:g} is outside Table 6's {shown}"


__all__ = ["BOUNDS", "CHOICES", "INTEGER", "PAPER_SPACE", "PROFILE_LIMITS", "TRAINING_DEFAULTS", "outside"]
