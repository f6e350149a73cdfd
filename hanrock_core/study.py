"""Hypotheses, their conditions, and study profiles (paper section 5, appendix A.3).

H1: HAN-ROCK with auxiliary families none (baseline), ap (actions + prosody), aphf (all sixteen).
H2: HAN-ROCK with the primary GRU units P in the profile's list (the largest is the baseline),
    A = capacity - P, plus P = largest with A = 0 (the "^" comparison of Table 2).
H3: flat-MTL HAN (baseline) against HAN-ROCK, both with all auxiliary targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .auxiliary_target import FAMILIES
from .config_file import (
    as_bool,
    as_int,
    as_list,
    as_mapping,
    as_number,
    as_str,
    read_config,
    refuse_unknown,
)
from .errors import InputError
from .search_space import BOUNDS, CHOICES, INTEGER, outside
from .word_vectors import VectorSpec, parse_vector_spec

HYPOTHESES = ("h1", "h2", "h3")
TABLE_VIEWS = {"h1": "table1_h1", "h2": "table2_h2", "h3": "table3_h3"}  # the view of sql/views.sql printing each
PROFILE_KEYS = {"name", "seed", "trials_per_condition", "epochs", "capacity_total",
                "h2_primary_units", "default_primary_units", "embedding_dim", "optimizer", "sampler",
                "median_pruning", "space", "bootstrap", "compile", "embeddings", "class_weights", "gru",
                "patience", "lr_schedule", "warmup_epochs", "replicates", "fusion_prior"}
SPACE_KEYS = {"learning_rate", "batch_size", "l2", "content_size", "dropout", "recurrent_dropout", "primary_weight",
              "primary_units"}
INT_SPACE_KEYS = set(INTEGER)
NESTED_INTS = {"median_pruning": {"first_epoch", "every"}, "bootstrap": {"resamples", "seed"}}


@dataclass(frozen=True)
class Condition:
    """One arm of a hypothesis: architecture, switched-on auxiliary families, capacity split."""

    name: str
    architecture: str
    families: tuple[str, ...]
    primary_units: int
    aux_units: int
    baseline: bool = False
    label: str = ""  # how the paper's table names the row


@dataclass(frozen=True)
class Profile:
    name: str
    seed: int = 0
    trials_per_condition: int = 3
    epochs: int = 8
    capacity_total: int = 33
    h2_primary_units: tuple[int, ...] = (32, 24, 16, 8, 1)
    default_primary_units: int = 32
    embedding_dim: int = 32
    optimizer: str = "adam"
    sampler: str = "dialogue"
    median_pruning: dict = field(default_factory=lambda: {"first_epoch": 5, "every": 2})
    space: dict = field(default_factory=dict)
    bootstrap: dict = field(default_factory=lambda: {"resamples": 1000, "seed": 0})
    compile: str = "off"  # torch.compile the attention kernel: pays off for large models only
    embeddings: VectorSpec | None = None  # pretrained word vectors (None: the settings', else learnt from scratch)
    class_weights: str = "none"  # primary cross-entropy weighted per class: none (the paper) or balanced
    gru: str = "auto"  # the biGRUs' recurrence: fused (kernels.py), torch (nn.GRU, cuDNN), auto: torch on CUDA
    patience: int = 0  # a trial stops when dev has not improved for this many epochs (0: off, the paper)
    lr_schedule: str = "constant"  # constant (the paper), cosine, plateau (training.LearningRate)
    warmup_epochs: float = 0.0  # linear warm-up of the learning rate (0: none, the paper)
    replicates: int = 0  # after the search, each condition's selected configuration trained with this many more seeds
    fusion_prior: bool = False  # HAN-ROCK's fusion starts with half its weight on the primary vector (not the paper)

    def fixed_training(self) -> dict:
        """The training settings every trial of the profile shares (TrainConfig fields); the search draws the rest."""
        return {"embedding_dim": self.embedding_dim, "optimizer": self.optimizer, "epochs": self.epochs,
                "sampler": self.sampler, "compile": self.compile, "gru": self.gru,
                "class_weights": self.class_weights, "patience": self.patience, "lr_schedule": self.lr_schedule,
                "warmup_epochs": self.warmup_epochs, "fusion_prior": self.fusion_prior,
                "embedding_trainable": self.embeddings.trainable if self.embeddings else True}


def profile_path(name: str) -> Path:
    """The packaged profile `quick` or `paper`."""
    return Path(str(resources.files("hanrock_core") / "profiles" / f"{name}.yaml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """A profile by name (quick, paper) or from a YAML file a user copied and edited; every value type-checked."""
    path = Path(name_or_path)
    if not path.suffix:
        path = profile_path(str(name_or_path))
    if not path.exists():
        raise InputError(f"no study profile {name_or_path!r}", path, hint="use quick, paper or a YAML file")
    cfg = read_config(path, "study profile")
    data = dict(cfg.data)
    refuse_unknown(cfg, data, PROFILE_KEYS)
    if isinstance(data.get("compile"), bool):  # YAML reads a bare off / on as a boolean
        data["compile"] = "on" if data["compile"] else "off"
    for key in ("seed", "patience", "replicates"):
        if key in data:
            as_int(cfg, key, data[key], 0)
    if "fusion_prior" in data:
        as_bool(cfg, "fusion_prior", data["fusion_prior"])
    if "warmup_epochs" in data:
        data["warmup_epochs"] = float(as_number(cfg, "warmup_epochs", data["warmup_epochs"], 0.0))
    for key in ("trials_per_condition", "epochs", "capacity_total", "default_primary_units", "embedding_dim"):
        if key in data:
            as_int(cfg, key, data[key], 1)
    for key, allowed in CHOICES.items():
        if key in data and data[key] not in allowed:
            raise cfg.error(key, f"{key} must be one of {list(allowed)}, not {data[key]!r}")
    if "name" in data:
        as_str(cfg, "name", data["name"])
    if "h2_primary_units" in data:
        units = as_list(cfg, "h2_primary_units", data["h2_primary_units"])
        data["h2_primary_units"] = tuple(as_int(cfg, "h2_primary_units", u, 1) for u in units)
    _check_space(cfg, as_mapping(cfg, "space", data.get("space") or {}))
    for key, known in NESTED_INTS.items():
        nested = as_mapping(cfg, key, data.get(key) or {})
        refuse_unknown(cfg, nested, known, f"{key}.")
        for sub, value in nested.items():
            as_int(cfg, f"{key}.{sub}", value, 0)
    data["embeddings"] = parse_vector_spec(cfg, "embeddings", data.get("embeddings"), path.parent)
    profile = Profile(**data)
    bad = [p for p in (*profile.h2_primary_units, *profile.space.get("primary_units", ()))
           if not 1 <= p < profile.capacity_total]
    if bad or profile.default_primary_units >= profile.capacity_total:
        raise InputError(f"primary units must be between 1 and capacity_total - 1 = {profile.capacity_total - 1}", path)
    if profile.trials_per_condition < 2:
        raise cfg.error("trials_per_condition", "trials_per_condition must be >= 2 (the bootstrap compares trials)")
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
        check = (lambda b: as_int(cfg, f"space.{key}", b, int(BOUNDS[key][0]))) if key in INT_SPACE_KEYS else (
            lambda b: as_number(cfg, f"space.{key}", b))
        low, high = (check(b) for b in bounds)
        if low > high:
            raise cfg.error(f"space.{key}", f"space.{key}: low {low:g} is above high {high:g}")
        why = next((outside(key, b) for b in (low, high) if key in BOUNDS and outside(key, b)), None)
        if why:
            raise cfg.error(f"space.{key}", f"space.{key}: {why}; every trial would fail",
                            hint=f"keep space.{key} within [{BOUNDS[key][0]:g}, {BOUNDS[key][1]:g}]")


def conditions(hypothesis: str, profile: Profile, available: tuple[str, ...] = FAMILIES) -> list[Condition]:
    """The conditions of a hypothesis (baseline first), restricted to the families the data has.

    H1 leaves out `ap` on data without actions and prosody (e.g. text-only corpora).
    """
    P, total = profile.default_primary_units, profile.capacity_total
    ap = tuple(f for f in ("actions", "prosody") if f in available)
    aphf = tuple(f for f in FAMILIES if f in available)
    if hypothesis == "h1":  # a challenger whose families the data lacks would only repeat the baseline
        return [c for c in (Condition("none", "han_rock", (), P, total - P, True, "None (Baseline)"),
                            Condition("ap", "han_rock", ap, P, total - P, False, "ap"),
                            Condition("aphf", "han_rock", aphf, P, total - P, False, "aphf")) if c.baseline or c.families]
    if hypothesis == "h2":
        units = sorted(profile.h2_primary_units, reverse=True)
        out = [Condition(f"p{p}", "han_rock", aphf, p, total - p, i == 0, f"{p} (Baseline)" if i == 0 else str(p))
               for i, p in enumerate(units)]
        out.append(Condition(f"p{units[0]}_a0", "han_rock", aphf, units[0], 0, False, f"{units[0]}, A = 0"))
        return out
    if hypothesis == "h3":
        return [Condition("flat", "flat_mtl", aphf, P, total - P, True, "Flat (Baseline)"),
                Condition("han_rock", "han_rock", aphf, P, total - P, False, "HAN-ROCK")]
    raise InputError(f"unknown hypothesis {hypothesis!r}; choose one of {HYPOTHESES}")


def comparisons(hypothesis: str, conds: list[Condition], floor: bool = False) -> list[tuple[str, str]]:
    """(baseline, challenger) pairs the significance table reports; with `floor`, every condition against it too."""
    base = next(c.name for c in conds if c.baseline)
    pairs = [(base, c.name) for c in conds if not c.baseline and not c.name.endswith("_a0")]
    if hypothesis == "h2":  # "^": A = 1-style auxiliary encoders against none at the same P
        pairs += [(c.name, base) for c in conds if c.name.endswith("_a0")]
    if floor:  # does the selected neural model beat a bag of words? (hanrock_core/floor.py)
        pairs += [("floor", c.name) for c in conds]
    return pairs
