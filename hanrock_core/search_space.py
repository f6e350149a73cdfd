"""The paper's Table 6 search space and the choices training accepts, declared once.

Profiles are checked against these bounds when they are read (`study.load_profile`, `hanrock
config`) and every training config again before it trains (`training.TrainConfig.validate`); this
module imports nothing heavy, so reading a profile never imports torch.
"""

from __future__ import annotations

# hyper-parameter -> (lowest, highest) value a trial may take (Table 6; content size and batch size
# are whole numbers, batch size is also at most floor(1024 / (content_size + 1)) in a search)
BOUNDS: dict[str, tuple[float, float]] = {
    "learning_rate": (2.0 ** -10, 2.0 ** -5),
    "l2": (0.0, 0.5),
    "dropout": (0.0, 0.5),
    "recurrent_dropout": (0.0, 0.5),
    "content_size": (0, 30),
    "batch_size": (1, 1024),
    "primary_weight": (0.0, 1.0),
}
INTEGER = ("content_size", "batch_size")

# setting -> the values training accepts
CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": ("sgd", "adam"),
    "sampler": ("dialogue", "shuffle", "chunks"),
    "compile": ("auto", "on", "off"),
    "class_weights": ("none", "balanced"),
    "gru": ("auto", "fused", "torch"),
    "lr_schedule": ("constant", "cosine", "plateau"),
}


def outside(name: str, value: float) -> str | None:
    """Why `value` is not allowed for hyper-parameter `name` (None: it is)."""
    low, high = BOUNDS[name]
    if low <= value <= high:
        return None
    shown = {"learning_rate": "[2^-10, 2^-5]"}.get(name, f"[{low:g}, {high:g}]")
    return f"{name} {value:g} is outside Table 6's {shown}"


__all__ = ["BOUNDS", "CHOICES", "INTEGER", "outside"]
