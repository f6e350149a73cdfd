"""Evaluation metrics: MA(4) = balanced accuracy (the authors' choice), F1s, MAE.

A dataset may name the metric its classification tasks are selected and reported on (most
conversation corpora publish weighted F1); every metric is computed and stored either way.
"""

from __future__ import annotations

import warnings

import numpy as np


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, float]:
    """Balanced accuracy (mean per-class recall), accuracy, macro / weighted F1, F1 per class."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score  # loaded when first scored

    labels = list(range(len(classes)))
    with warnings.catch_warnings():  # a class absent from a small dev set is not worth a warning
        warnings.simplefilter("ignore", UserWarning)
        balanced = float(balanced_accuracy_score(y_true, y_pred))
    per_class = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    out = {
        "balanced_accuracy": balanced,
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
    }
    out.update({f"f1_{c}": float(v) for c, v in zip(classes, per_class)})
    return out


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import mean_absolute_error

    return {"mae": float(mean_absolute_error(y_true, y_pred))}


CLASSIFICATION_METRICS = ("balanced_accuracy", "weighted_f1", "macro_f1", "accuracy")
REGRESSION_METRICS = ("mae",)
# how tables and plots name a metric (the paper's own name for balanced accuracy on 4 classes is MA(4))
METRIC_LABELS = {
    "balanced_accuracy": "MA",
    "weighted_f1": "weighted F1",
    "macro_f1": "macro F1",
    "accuracy": "accuracy",
    "mae": "MAE",
}


def default_metric(classification: bool) -> str:
    """The paper's metric: MA (balanced accuracy) for classes, MAE for numbers."""
    return CLASSIFICATION_METRICS[0] if classification else REGRESSION_METRICS[0]


def selection_metric(classification: bool, name: str | None = None) -> tuple[str, bool]:
    """The metric an epoch (and a trial) is chosen on -- `name`, or the paper's -- and whether higher is better."""
    name = name or default_metric(classification)
    allowed = CLASSIFICATION_METRICS if classification else REGRESSION_METRICS
    if name not in allowed:
        raise ValueError(
            f"metric {name!r} does not apply to a {'classification' if classification else 'regression'} "
            f"task; choose one of {list(allowed)}"
        )
    return name, name not in REGRESSION_METRICS
