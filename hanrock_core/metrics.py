"""Evaluation metrics: MA(4) = balanced accuracy (the authors' choice), F1s, MAE."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, mean_absolute_error


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, float]:
    """Balanced accuracy (mean per-class recall), accuracy, macro / weighted F1, F1 per class."""
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
    return {"mae": float(mean_absolute_error(y_true, y_pred))}


def selection_metric(classification: bool) -> tuple[str, bool]:
    """The metric an epoch (and a trial) is chosen on, and whether higher is better."""
    return ("balanced_accuracy", True) if classification else ("mae", False)
