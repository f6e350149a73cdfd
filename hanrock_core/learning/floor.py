"""The bag-of-words floor: TF-IDF of each talkturn's model input, then a linear model, no context.

Every study reports it beside its neural conditions (condition `floor`), because it is the first
thing a reviewer asks: does the hierarchical model beat a bag of words on the same split?
Classification uses logistic regression, regression ridge regression; the regularisation
strength is chosen on dev with the split's selection metric, never on test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge

from hanrock_core.base.metrics import classification_metrics, regression_metrics, selection_metric

CONDITION = "floor"
# inverse regularisation strengths tried on dev (logistic regression's C; ridge's alpha is 1 / C)
STRENGTHS = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


@dataclass
class FloorResult:
    strength: float  # the C chosen on dev
    dev: dict[str, float]
    test: dict[str, float]
    test_predictions: pd.DataFrame  # utterance_id, truth, prediction


def _metrics(truth: np.ndarray, pred: np.ndarray, classes: list[str] | None) -> dict[str, float]:
    if classes is None:
        return regression_metrics(truth, pred)
    return classification_metrics(truth.astype(int), pred.astype(int), classes)


def fit_floor(
    texts: np.ndarray,
    labels: np.ndarray,
    split: np.ndarray,
    classes: list[str] | None,
    metric: str | None = None,
    seed: int = 0,
) -> FloorResult:
    """Fit the floor on the labelled train talkturns and choose C on dev.

    `texts` are the model inputs (normalised narratives), `labels` class indices (-1 = none) or
    values (NaN = none), `split` train / dev / test per row.
    """
    classification = classes is not None
    name, higher_better = selection_metric(classification, metric)
    labelled = labels >= 0 if classification else ~np.isnan(labels)
    rows = {p: np.flatnonzero((split == p) & labelled) for p in ("train", "dev", "test")}
    vectoriser = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, token_pattern=r"\S+")
    x = {p: (vectoriser.fit_transform if p == "train" else vectoriser.transform)(texts[r]) for p, r in rows.items()}
    y = {p: labels[r] for p, r in rows.items()}
    best = None
    for strength in STRENGTHS:
        model = (
            LogisticRegression(C=strength, max_iter=2000, random_state=seed)
            if classification
            else Ridge(alpha=1.0 / strength)
        )
        model.fit(x["train"], y["train"].astype(int) if classification else y["train"])
        dev = _metrics(y["dev"], model.predict(x["dev"]), classes)
        score = dev[name] if higher_better else -dev[name]
        if best is None or score > best[0]:
            best = (score, strength, model, dev)
    _, strength, model, dev = best
    pred = model.predict(x["test"])
    test = _metrics(y["test"], pred, classes)
    truth = y["test"]
    predictions = pd.DataFrame(
        {
            "row": rows["test"],  # positions in the inputs
            "truth": [classes[int(t)] for t in truth] if classification else truth,
            "prediction": [classes[int(p)] for p in pred] if classification else pred,
        }
    )
    return FloorResult(strength, dev, test, predictions)
