"""Study profiles (appendix A.3 and the platform's own): what every trial of a study shares, and the
search space it draws the rest from.  `quick`, `standard` and `paper` are packaged
(hanrock_core/study/profiles/*.yaml); a user's copy is read the same way, every value type-checked and
checked against Table 6 (search_space.py) with its file and line."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

from hanrock_core.base.config_file import (
    as_bool,
    as_int,
    as_list,
    as_mapping,
    as_number,
    as_str,
    read_config,
    refuse_unknown,
)
from hanrock_core.base.errors import InputError
from hanrock_core.learning.search_space import (
    BOUNDS,
    CHOICES,
    INTEGER,
    PAPER_SPACE,
    PROFILE_LIMITS,
    TRAINING_DEFAULTS,
    outside,
)
from hanrock_core.preparation.pretrained_vectors import VectorSpec, parse_vector_spec

# a profile's `space:` may narrow every Table 6 bound, and list the choices of P for H1 and H3
SPACE_KEYS = set(BOUNDS) | {"primary_units"}
INT_SPACE_KEYS = set(INTEGER)

NESTED_INTS = {"median_pruning": {"first_epoch", "every"}, "bootstrap": {"resamples", "seed"}}


@dataclass(frozen=True)
class Profile:
    name: str
    seed: int = 0
    trials_per_condition: int = 3
    epochs: int = TRAINING_DEFAULTS["epochs"]
    capacity_total: int = 33
    h2_primary_units: tuple[int, ...] = (32, 24, 16, 8, 1)
    default_primary_units: int = 32
    embedding_dim: int = TRAINING_DEFAULTS["embedding_dim"]
    optimizer: str = TRAINING_DEFAULTS["optimizer"]
    sampler: str = TRAINING_DEFAULTS["sampler"]
    median_pruning: dict = field(default_factory=lambda: {"first_epoch": 5, "every": 2})
    space: dict = field(default_factory=dict)
    bootstrap: dict = field(default_factory=lambda: {"resamples": 1000, "seed": 0})
    compile: str = TRAINING_DEFAULTS["compile"]  # torch.compile the attention kernel: pays off for large models
    embeddings: VectorSpec | None = None  # pretrained word vectors (None: the settings', else learnt from scratch)
    class_weights: str = TRAINING_DEFAULTS["class_weights"]  # none (the paper) or balanced
    gru: str = TRAINING_DEFAULTS["gru"]  # the biGRUs' recurrence: fused, torch (nn.GRU, cuDNN), auto: torch on CUDA
    patience: int = TRAINING_DEFAULTS["patience"]  # stop when dev has not improved for this many epochs (0: off)
    lr_schedule: str = TRAINING_DEFAULTS["lr_schedule"]  # constant (the paper), cosine, plateau
    warmup_epochs: float = TRAINING_DEFAULTS["warmup_epochs"]  # linear warm-up of the learning rate (0: none)
    replicates: int = 0  # after the search, each condition's selected configuration trained with more seeds
    fusion_prior: bool = TRAINING_DEFAULTS["fusion_prior"]  # the fusion starts at half weight on the primary vector
    speaker_context: bool = TRAINING_DEFAULTS["speaker_context"]  # the content context marks the speaker's talkturns
    content_after: int = TRAINING_DEFAULTS["content_after"]  # windows also hold this many following talkturns
    word_dropout: float = TRAINING_DEFAULTS["word_dropout"]  # each embedded word's elements dropped independently
    head_dropout: float = TRAINING_DEFAULTS["head_dropout"]  # dropout on the vector the primary head reads
    min_count: int = 1  # the vocabulary keeps train words seen at least this often; rarer ones are unknown words

    def search_range(self, name: str) -> tuple[float, float]:
        """The range a trial draws hyper-parameter `name` from: the profile's `space:`, else the paper's."""
        low, high = self.space.get(name, PAPER_SPACE[name])
        return low, high

    def fixed_training(self) -> dict:
        """The training settings every trial of the profile shares (TrainConfig fields); the search draws the rest."""
        shared = {key: getattr(self, key) for key in TRAINING_DEFAULTS}
        return {**shared, "embedding_trainable": self.embeddings.trainable if self.embeddings else True}


PROFILE_KEYS = {f.name for f in fields(Profile)}  # every key a profile YAML may hold


def profile_path(name: str) -> Path:
    """The packaged profile `quick` or `paper`."""
    return Path(str(resources.files("hanrock_core.study") / "profiles" / f"{name}.yaml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """A profile by name (quick, standard, paper) or from a YAML file a user copied and edited; every value
    type-checked.  Read once per process and file version."""
    path = Path(name_or_path)
    if not path.suffix:
        path = profile_path(str(name_or_path))
    if not path.exists():
        raise InputError(f"no study profile {name_or_path!r}", path, hint="use quick, standard, paper or a YAML file")
    return _read_profile(path.resolve(), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _read_profile(path: Path, modified_ns: int) -> Profile:
    cfg = read_config(path, "study profile")
    data = dict(cfg.data)
    refuse_unknown(cfg, data, PROFILE_KEYS)
    if isinstance(data.get("compile"), bool):  # YAML reads a bare off / on as a boolean
        data["compile"] = "on" if data["compile"] else "off"
    whole = ("seed", "patience", "replicates", "trials_per_condition", "epochs", "capacity_total", "min_count")
    whole += ("content_after",)
    for key in (*whole, "default_primary_units", "embedding_dim"):
        if key in data:
            as_int(cfg, key, data[key], *map(int, PROFILE_LIMITS[key]))
    for key in ("fusion_prior", "speaker_context"):
        if key in data:
            as_bool(cfg, key, data[key])
    for key in ("warmup_epochs", "word_dropout", "head_dropout"):
        if key in data:
            data[key] = float(as_number(cfg, key, data[key], *PROFILE_LIMITS[key]))
    for key, allowed in CHOICES.items():
        if key in data and data[key] not in allowed:
            raise cfg.error(key, f"{key} must be one of {list(allowed)}, not {data[key]!r}")
    if "name" in data:
        as_str(cfg, "name", data["name"])
    if "h2_primary_units" in data:
        units = as_list(cfg, "h2_primary_units", data["h2_primary_units"])
        data["h2_primary_units"] = tuple(
            as_int(cfg, "h2_primary_units", u, *map(int, PROFILE_LIMITS["h2_primary_units"])) for u in units
        )
    _check_space(cfg, as_mapping(cfg, "space", data.get("space") or {}))
    for key, known in NESTED_INTS.items():
        nested = as_mapping(cfg, key, data.get(key) or {})
        refuse_unknown(cfg, nested, known, f"{key}.")
        for sub, value in nested.items():
            as_int(cfg, f"{key}.{sub}", value, *map(int, PROFILE_LIMITS[f"{key}.{sub}"]))
    data["embeddings"] = parse_vector_spec(cfg, "embeddings", data.get("embeddings"), path.parent)
    profile = Profile(**data)
    bad = [
        p
        for p in (*profile.h2_primary_units, *profile.space.get("primary_units", ()))
        if not 1 <= p < profile.capacity_total
    ]
    if bad or profile.default_primary_units >= profile.capacity_total:
        raise InputError(f"primary units must be between 1 and capacity_total - 1 = {profile.capacity_total - 1}", path)
    return profile


def _check_space(cfg, space: dict) -> None:
    """Each search-space entry is [low, high] with low <= high."""
    refuse_unknown(cfg, space, SPACE_KEYS, "space.")
    for key, value in space.items():
        bounds = as_list(cfg, f"space.{key}", value)
        if key == "primary_units":  # the choices of P in H1 and H3 (default: h2_primary_units, as Table 6)
            if not bounds:
                raise cfg.error("space.primary_units", "space.primary_units lists no choice")
            for units in bounds:
                as_int(cfg, "space.primary_units", units, 1)
            continue
        if len(bounds) != 2:
            raise cfg.error(f"space.{key}", f"space.{key} must be [low, high], not {value!r}")
        if key in INT_SPACE_KEYS:
            low, high = (as_int(cfg, f"space.{key}", b, int(BOUNDS[key][0])) for b in bounds)
        else:
            low, high = (as_number(cfg, f"space.{key}", b) for b in bounds)
        if low > high:
            raise cfg.error(f"space.{key}", f"space.{key}: low {low:g} is above high {high:g}")
        why = next((outside(key, b) for b in (low, high) if key in BOUNDS and outside(key, b)), None)
        if why:
            raise cfg.error(
                f"space.{key}",
                f"space.{key}: {why}; every trial would fail",
                hint=f"keep space.{key} within [{BOUNDS[key][0]:g}, {BOUNDS[key][1]:g}]",
            )


__all__ = ["Profile", "load_profile", "profile_path"]
