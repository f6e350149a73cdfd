"""Bootstrap significance (A.4): a hand-computed case, direction for MAE, per-class F1 rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hanrock_core.base.errors import InputError
from hanrock_core.comparison.significance import compare, hypothesis_tables, resampled_test_values


def test_hand_computed_case():
    # baseline: the best-dev trial is trial 1 (test 20) unless a resample holds trial 0 twice (p = 1/4: 10)
    # challenger: trial 0 (test 30) unless a resample holds trial 1 twice (p = 1/4: 40)
    # challenger - baseline: 10 (p 9/16), 20 (p 6/16), 30 (p 1/16) -> 95% interval [10, 30]
    result = compare(
        (np.array([1.0, 2.0]), np.array([10.0, 20.0])),
        (np.array([5.0, 3.0]), np.array([30.0, 40.0])),
        higher_better=True,
        resamples=4000,
        seed=1,
    )
    assert (result.baseline_value, result.challenger_value) == (20.0, 30.0)
    assert (result.ci_low, result.ci_high) == (10.0, 30.0)
    assert result.significant and result.better
    draws = resampled_test_values(np.array([1.0, 2.0]), np.array([10.0, 20.0]), True, 40000, np.random.default_rng(0))
    assert np.mean(draws == 10.0) == pytest.approx(0.25, abs=0.01)


def test_lower_mae_is_better():
    dev, test = np.array([0.5, 0.4, 0.6]), np.array([0.55, 0.45, 0.65])
    result = compare((dev, test), (dev - 0.2, test - 0.2), higher_better=False, seed=0)
    assert result.challenger_value == pytest.approx(0.25) and result.baseline_value == pytest.approx(0.45)
    assert result.better and result.significant and result.ci_high < 0


def test_equal_conditions_are_not_significant_and_two_trials_are_needed():
    rng = np.random.default_rng(3)
    dev, test = rng.random(30), rng.random(30)
    assert not compare((dev, test), (dev.copy(), test.copy()), True, seed=2).significant
    with pytest.raises(InputError, match="needs at least 2"):
        compare((dev[:1], test[:1]), (dev, test), True)


def test_hypothesis_tables_include_class_f1():
    rows = []
    for condition, shift in (("none", 0.0), ("aphf", 0.3)):
        for trial in range(4):
            f1 = {"f1_sad": 0.3 + shift + trial / 100, "f1_happy": 0.5}
            rows.append(
                {
                    "hypothesis": "h1",
                    "dataset": "iemocap",
                    "task": "emotion",
                    "condition": condition,
                    "trial": trial,
                    "state": "complete",
                    "metric": "balanced_accuracy",
                    "dev_value": 0.5 + shift + trial / 100,
                    "test_value": 0.5 + shift,
                    "test_metrics": json.dumps(f1),
                }
            )
    table, f1 = hypothesis_tables(pd.DataFrame(rows), "h1", [("none", "aphf")])
    assert len(table) == 1 and bool(table["significant"].iloc[0])
    sad = f1[(f1["condition"] == "aphf") & (f1["label"] == "sad")].iloc[0]
    assert sad["f1"] == pytest.approx(0.63) and bool(sad["significant"])
    assert not bool(f1[(f1["condition"] == "aphf") & (f1["label"] == "happy")]["significant"].iloc[0])
