"""One training run's hyper-parameters (Table 6's names), checked against Table 6's ranges before any training.

docs/training.md says what each one does; the search space and the profiles' defaults live in search_space.py."""

from __future__ import annotations

from dataclasses import dataclass

from hanrock_core.base.errors import InputError
from hanrock_core.learning.loss_weighting import WEIGHTINGS
from hanrock_core.learning.model import ARCHITECTURES
from hanrock_core.learning.search_space import CHOICES, PROFILE_LIMITS, TRAINING_DEFAULTS, outside
from hanrock_core.preparation.vocabulary import MAX_WORDS


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run (Table 6 names; see docs/training.md)."""

    architecture: str = "han_rock"
    primary_units: int = 256  # P
    aux_units: int = 1  # A
    capacity_total: int | None = None  # when set, P + A must equal it (the paper: 257)
    embedding_dim: int = TRAINING_DEFAULTS["embedding_dim"]
    learning_rate: float = 2.0**-7
    batch_size: int = 43
    content_size: int = 18
    l2: float = 0.0
    dropout: float = 0.1
    recurrent_dropout: float = 0.1
    optimizer: str = TRAINING_DEFAULTS["optimizer"]
    momentum: float = 0.9
    clip_norm: float = 1.0
    epochs: int = TRAINING_DEFAULTS["epochs"]
    sampler: str = TRAINING_DEFAULTS["sampler"]
    seed: int = 0
    device: str = "auto"
    max_words: int = MAX_WORDS
    eval_batch_size: int = 256
    # torch.compile the attention kernel: auto (on CPU when it works), on, off
    compile: str = TRAINING_DEFAULTS["compile"]
    embedding_trainable: bool = True  # pretrained vectors are fine-tuned (the authors'); False freezes them
    # primary cross-entropy: none (the paper) or balanced (n / (K n_c) per class)
    class_weights: str = TRAINING_DEFAULTS["class_weights"]
    # biGRU recurrence: fused (kernels.py), torch (nn.GRU; cuDNN on CUDA); auto: torch on CUDA
    gru: str = TRAINING_DEFAULTS["gru"]
    # stop after this many epochs without a better dev metric (0: run every epoch, the paper)
    patience: int = TRAINING_DEFAULTS["patience"]
    # constant (the paper), cosine (decay to 0 at `epochs`), plateau (halve when dev stalls)
    lr_schedule: str = TRAINING_DEFAULTS["lr_schedule"]
    # the learning rate rises linearly from 0 over these epochs first (0: none)
    warmup_epochs: float = TRAINING_DEFAULTS["warmup_epochs"]
    # HAN-ROCK's fusion starts with half its weight on the primary vector (not the paper)
    fusion_prior: bool = TRAINING_DEFAULTS["fusion_prior"]
    # the primary content context marks which talkturns the sample's own speaker said (not the paper)
    speaker_context: bool = TRAINING_DEFAULTS["speaker_context"]
    # windows also hold this many talkturns after the sample's, which the encoders see marked (not the paper)
    content_after: int = TRAINING_DEFAULTS["content_after"]
    # element-wise dropout on the embedded words and on the vector the primary head reads (not the paper)
    word_dropout: float = TRAINING_DEFAULTS["word_dropout"]
    head_dropout: float = TRAINING_DEFAULTS["head_dropout"]
    # how the losses are weighted while training: fixed (the paper) or an adaptive method (H4, loss_weighting.py)
    weighting: str = "fixed"

    def validate(self) -> None:
        """Refuse values outside Table 6's ranges or inconsistent ones, before any training."""
        problems = []
        if self.architecture not in ARCHITECTURES:
            problems.append(f"architecture {self.architecture!r} is not one of {ARCHITECTURES}")
        for name in ("learning_rate", "batch_size", "content_size", "l2", "dropout", "recurrent_dropout"):
            why = outside(name, getattr(self, name))
            if why:
                problems.append(why)
        if self.primary_units < 1 or self.aux_units < 0:
            problems.append(
                f"primary_units must be >= 1 and aux_units >= 0 (got P={self.primary_units}, A={self.aux_units})"
            )
        if self.capacity_total is not None and self.primary_units + self.aux_units != self.capacity_total:
            problems.append(
                f"P + A = {self.primary_units + self.aux_units}, but the study demands {self.capacity_total}"
            )
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                problems.append(f"{name} {getattr(self, name)!r} is not one of {list(allowed)}")
        if self.weighting not in WEIGHTINGS:
            problems.append(f"weighting {self.weighting!r} is not one of {list(WEIGHTINGS)}")
        if self.epochs < 1:
            problems.append(f"epochs {self.epochs} must be >= 1")
        for name in ("content_after", "word_dropout", "head_dropout"):  # the profiles' bounds, declared once
            low, high = PROFILE_LIMITS[name]
            if not low <= getattr(self, name) <= high:
                problems.append(f"{name} {getattr(self, name)} must be between {low:g} and {high:g}")
        if self.patience < 0 or self.warmup_epochs < 0:
            problems.append(f"patience ({self.patience}) and warmup_epochs ({self.warmup_epochs}) must be >= 0")
        if problems:
            raise InputError("invalid training config: " + "; ".join(problems))


__all__ = ["TrainConfig"]
