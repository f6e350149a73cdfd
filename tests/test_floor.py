"""The bag-of-words floor: TF-IDF + a linear model, regularisation chosen on dev, and its bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from hanrock_core.comparison.significance import compare
from hanrock_core.learning.floor import STRENGTHS, fit_floor


def _texts(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Class 0 talkturns say 'great', class 1 'awful'; both say filler words."""
    labels = rng.integers(0, 2, n)
    filler = ["speaker said", "speaker said well", "speaker said so then"]
    texts = np.array([f"{filler[i % 3]} {'great' if y == 0 else 'awful'} thing" for i, y in enumerate(labels)])
    return texts, labels


def test_floor_learns_words_and_chooses_c_on_dev():
    rng = np.random.default_rng(0)
    texts, labels = _texts(120, rng)
    split = np.array(["train"] * 80 + ["dev"] * 20 + ["test"] * 20)
    labels = labels.astype(float)
    labels[5] = -1  # an unlabelled talkturn is left out
    floor = fit_floor(texts, labels, split, ["pos", "neg"], "weighted_f1")
    assert floor.strength in STRENGTHS
    assert floor.dev["weighted_f1"] == 1.0 and floor.test["accuracy"] == 1.0
    assert len(floor.test_predictions) == 20 and set(floor.test_predictions["prediction"]) == {"pos", "neg"}


def test_floor_regression_is_ridge_on_the_same_text():
    rng = np.random.default_rng(1)
    texts, labels = _texts(90, rng)
    values = np.where(labels == 0, 4.0, 2.0) + rng.normal(0, 0.05, len(labels))
    split = np.array(["train"] * 60 + ["dev"] * 15 + ["test"] * 15)
    floor = fit_floor(texts, values, split, None)
    assert floor.test["mae"] < 0.3  # the constant predictor is off by about 1


def test_a_one_fit_baseline_is_bootstrapped_as_itself():
    floor = (np.array([0.30]), np.array([0.32]))
    model = (np.array([0.31, 0.35, 0.33]), np.array([0.30, 0.36, 0.31]))
    result = compare(floor, model, higher_better=True, resamples=500, seed=0, baseline_trials=1)
    assert result.baseline_value == pytest.approx(0.32) and result.challenger_value == pytest.approx(0.36)
    # every resample of the floor is the floor: differences are the model's resampled test values - 0.32
    assert 0.30 - 0.32 <= result.ci_low < 0 and result.ci_high == pytest.approx(0.36 - 0.32)
    assert not result.significant
    with pytest.raises(Exception, match="needs at least 2"):
        compare(floor, model, higher_better=True)  # a searched baseline needs two trials
