"""Resolve a configured dataset to its talkturn table, generating the synthetic corpus on first use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from hanrock_core.base.errors import InputError
from hanrock_core.base.notices import Notices
from hanrock_core.preparation.settings import DatasetConfig, Settings, check_data_directory
from hanrock_core.reading.corpora import read_corpus
from hanrock_core.reading.corpora.byo import load_spec
from hanrock_core.reading.layouts import layout
from hanrock_core.reading.synthetic import generate


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
        root = cfg.spec.parent if not layout(cfg.corpus).synthetic else ensure_synthetic(settings, cfg.corpus, log)
    log(f"reading {name} ({cfg.corpus} layout) from {root}")
    table = read_corpus(cfg.corpus, root, cfg.options, notices=notices)
    table["dataset"] = pd.array([name] * len(table), dtype="string")  # the configured name wins
    return table, Path(root)


def dataset_tasks(settings: Settings, name: str) -> tuple[str, ...]:
    """Primary tasks of a dataset: its layout's (the paper's for iemocap/semaine), else its spec's labels."""
    return tuple(task_kinds(settings.dataset(name)))


def task_kinds(cfg: DatasetConfig) -> dict[str, bool]:
    """Each primary task of a dataset and whether it is classification: from its layout, else its spec."""
    tasks = layout(cfg.corpus).tasks
    if tasks is not None:
        return dict(tasks)
    return {task: label["type"] == "class" for task, label in load_spec(cfg.spec).labels.items()}


def dataset_metrics(settings: Settings, name: str) -> dict[str, str]:
    """Each primary task's selection metric: the settings' `metrics`, else the spec's, else the paper's (MA / MAE)."""
    from hanrock_core.base.metrics import selection_metric

    cfg = settings.dataset(name)
    kinds = task_kinds(cfg)
    if layout(cfg.corpus).tasks is None:
        metrics = {task: label["metric"] for task, label in load_spec(cfg.spec).labels.items()}
    else:
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
