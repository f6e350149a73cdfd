"""Resolve a configured dataset to its talkturn table, generating the synthetic corpus on first use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .corpora import read_corpus
from .corpora.byo import load_spec
from .errors import InputError
from .notices import Notices
from .settings import Settings, check_data_directory
from .synthetic import generate


def synthetic_root(settings: Settings, corpus: str) -> Path:
    """Where the embedded synthetic corpus of `corpus` lives for the configured scale and seed."""
    return settings.home.synthetic_corpus(corpus, settings.synthetic_scale, settings.synthetic_seed)


def ensure_synthetic(settings: Settings, corpus: str, log: Callable[[str], None] = print) -> Path:
    """Generate the synthetic corpus once; later calls (and concurrent ones) reuse it."""
    root = synthetic_root(settings, corpus)
    if root.exists():
        return root
    log(f"generating the synthetic {corpus} corpus (scale {settings.synthetic_scale}) into {root}")
    try:
        generate(corpus, root, settings.synthetic_scale, settings.synthetic_seed)
    except Exception:
        if not root.exists():  # another process may have won the race to write it
            raise
    return root


def load_dataset(
    settings: Settings, name: str, log: Callable[[str], None] = print, notices: Notices | None = None
) -> tuple[pd.DataFrame, Path]:
    """The talkturn table of dataset `name` and the root it was read from; what the read left out goes to `notices`."""
    cfg = settings.dataset(name)
    check_data_directory(settings.home)
    root = cfg.root
    if root is None:
        root = cfg.spec.parent if cfg.corpus == "byo" else ensure_synthetic(settings, cfg.corpus, log)
    log(f"reading {name} ({cfg.corpus} layout) from {root}")
    table = read_corpus(
        cfg.corpus,
        root,
        spec=cfg.spec,
        split_file=cfg.splits,
        openface_dir=cfg.openface,
        vokaturi_csv=cfg.vokaturi,
        openface_fps=cfg.openface_fps,
        notices=notices,
    )
    table["dataset"] = pd.array([name] * len(table), dtype="string")  # the configured name wins
    return table, Path(root)


# the paper's primary tasks of the two licensed corpora (label_<task> columns)
PAPER_TASKS = {
    "iemocap": ("emotion", "valence", "activation", "dominance"),
    "semaine": ("activation", "intensity", "power", "valence"),
}


def dataset_tasks(settings: Settings, name: str) -> tuple[str, ...]:
    """Primary tasks of a dataset: the paper's for iemocap/semaine, the spec's labels otherwise."""
    cfg = settings.dataset(name)
    if cfg.corpus == "byo":
        return tuple(load_spec(cfg.spec).labels)
    return PAPER_TASKS[cfg.corpus]


def dataset_metrics(settings: Settings, name: str) -> dict[str, str]:
    """Each primary task's selection metric: the settings' `metrics`, else the spec's, else the paper's (MA / MAE)."""
    from .metrics import selection_metric

    cfg = settings.dataset(name)
    if cfg.corpus == "byo":
        spec = load_spec(cfg.spec)
        kinds = {task: label["type"] == "class" for task, label in spec.labels.items()}
        metrics = {task: label["metric"] for task, label in spec.labels.items()}
    else:
        kinds = {task: task == "emotion" for task in PAPER_TASKS[cfg.corpus]}
        metrics = {task: selection_metric(kind)[0] for task, kind in kinds.items()}
    for task, metric in cfg.metrics.items():
        if task not in kinds:
            raise InputError(
                f"datasets.{name}.metrics names task {task!r}, which {name} does not have (its tasks: {list(kinds)})",
                settings.source,
            )
        try:
            selection_metric(kinds[task], metric)
        except ValueError as exc:
            raise InputError(f"datasets.{name}.metrics.{task}: {exc}", settings.source) from None
        metrics[task] = metric
    return metrics
