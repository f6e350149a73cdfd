"""Auxiliary targets: train-only percentile ranks, A.2 scaling, neighbour labels at dialogue edges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hanrock_core.base.errors import InputError
from hanrock_core.preparation.auxiliary_target import (
    NO_LABEL,
    AuxiliarySpec,
    available_families,
    build_auxiliary_targets,
    percentile_rank,
)
from hanrock_core.reading.talkturn import FEATURES, missing_column


def _table(dataset="iemocap", n=8, **columns):
    base = pd.DataFrame(
        {
            "dataset": dataset,
            "dialogue": "d",
            "turn_index": range(n),
            "utterance_id": [f"u{i}" for i in range(n)],
            "speaker": "s",
            "split": ["train"] * (n - 2) + ["dev", "test"],
            "label_valence": np.linspace(1, 5, n),
            "label_emotion": pd.array((["happy", "sad"] * n)[:n], dtype="string"),
        }
    )
    for name in FEATURES:
        base[name] = missing_column(name, base.index)
    for name, values in columns.items():
        base[name] = values
    return base


def test_percentile_rank_mid_ranks_ties_and_outside_values():
    ref = np.array([1.0, 2.0, 2.0, 3.0])
    np.testing.assert_allclose(
        percentile_rank(np.array([2.0, 0.0, 9.0, np.nan, 1.0]), ref), [0.5, 0.0, 1.0, np.nan, 0.125]
    )
    np.testing.assert_allclose(percentile_rank(np.array([4.0, 4.0, 5.0]), np.array([4.0, 4.0])), [0.5, 0.5, 1.0])


def test_ranks_use_train_only():
    au = np.array([0.1, 0.5, 0.3, 0.2, 0.4, 0.6, 0.9, 0.0])
    a = build_auxiliary_targets(_table(au05_r=au), "valence", AuxiliarySpec(("actions",))).table
    changed = au.copy()
    changed[6:] = [5.0, -1.0]  # dev and test values change
    b = build_auxiliary_targets(_table(au05_r=changed), "valence", AuxiliarySpec(("actions",))).table
    np.testing.assert_array_equal(a["au05_r"][:6], b["au05_r"][:6])
    assert b["au05_r"].iloc[6] == 5.0 and b["au05_r"].iloc[7] == 1.0  # ranked 1 and 0 against train, scaled to [1, 5]


@pytest.mark.parametrize(
    "dataset, task, low, high",
    [("iemocap", "valence", 1, 5), ("iemocap", "emotion", 0, 1), ("semaine", "valence", -1, 1)],
)
def test_a2_scaling(dataset, task, low, high):
    table = _table(dataset, tone_fear=np.arange(8, dtype=float))
    targets = build_auxiliary_targets(table, task, AuxiliarySpec(("prosody",)))
    fear = targets.table["tone_fear"]
    train_rank = (np.arange(6) + 0.5) / 6
    np.testing.assert_allclose(fear[:6], low + train_rank * (high - low))
    assert targets.target_range == (low, high)


def test_constant_and_missing_features():
    table = _table(au17_r=np.full(8, 2.0), au05_r=[np.nan, 1, 2, 3, 4, 5, 6, 7])
    t = build_auxiliary_targets(table, "valence", AuxiliarySpec(("actions",))).table
    assert (t["au17_r"] == 3.0).all()  # rank 0.5 everywhere, scaled to the middle of [1, 5]
    assert np.isnan(t["au05_r"].iloc[0])  # missing feature -> missing target (masked out of the loss)


def test_history_and_future_fill_at_dialogue_edges_regression():
    valence = [2.0, np.nan, 4.0, 5.0]
    table = _table(n=4, label_valence=valence, split=["train"] * 4)
    t = build_auxiliary_targets(table, "valence", AuxiliarySpec(("historical", "future"))).table
    # t-1 of talkturn 0: before the dialogue -> nearest labelled is talkturn 0 itself
    np.testing.assert_allclose(t["valence_t-1"], [2.0, 2.0, 4.0, 4.0])  # talkturn 3's t-1 is 2 (labelled)
    # t-1 of talkturn 2 is talkturn 1 (missing): its neighbours 0 and 2 tie; history prefers the later one (2)
    np.testing.assert_allclose(t["valence_t-4"], [2.0, 2.0, 2.0, 2.0])
    np.testing.assert_allclose(
        t["valence_t+1"], [2.0, 4.0, 5.0, 5.0]
    )  # talkturn 0's t+1 is missing: tie 0|2 -> earlier (0)
    np.testing.assert_allclose(t["valence_t+4"], [5.0, 5.0, 5.0, 5.0])


def test_history_and_future_in_classification_have_a_no_label_class():
    emotion = pd.array([None, "sad", None, "happy", "angry"], dtype="string")
    table = _table(n=5, label_emotion=emotion, split=["train"] * 5)
    t = build_auxiliary_targets(table, "emotion", AuxiliarySpec(("historical", "future"))).table
    assert list(t["emotion_t-1"]) == ["sad", NO_LABEL, "sad", NO_LABEL, "happy"]  # outside -> nearest labelled
    assert list(t["emotion_t+1"]) == ["sad", NO_LABEL, "happy", "angry", "angry"]
    assert list(t["emotion_t+2"]) == [NO_LABEL, "happy", "angry", "angry", "angry"]


def test_neighbours_never_cross_dialogues():
    table = _table(n=4, split=["train"] * 4, label_valence=[1.0, 2.0, 3.0, 4.0])
    table["dialogue"] = ["a", "a", "b", "b"]
    table["turn_index"] = [0, 1, 0, 1]
    t = build_auxiliary_targets(table, "valence", AuxiliarySpec(("historical", "future"))).table
    np.testing.assert_allclose(t["valence_t-1"], [1.0, 1.0, 3.0, 3.0])
    np.testing.assert_allclose(t["valence_t+1"], [2.0, 2.0, 4.0, 4.0])


def test_extra_user_targets_and_bad_input():
    table = _table(my_score=np.arange(8, dtype=float))
    t = build_auxiliary_targets(table, "valence", AuxiliarySpec((), {"mine": ("my_score",)}))
    assert t.family == {"my_score": "mine"} and t.table["my_score"].iloc[0] == pytest.approx(1 + 4 * 0.5 / 6)
    with pytest.raises(InputError, match="family 'actions' needs columns \\['au05_r'\\]"):
        build_auxiliary_targets(table.drop(columns="au05_r"), "valence", AuxiliarySpec(("actions",)))
    build_auxiliary_targets(table.drop(columns="au05_r"), "valence", AuxiliarySpec(("prosody",)))  # switched off: fine
    with pytest.raises(InputError, match="no labels in the train split"):
        build_auxiliary_targets(table.assign(label_valence=[np.nan] * 6 + [1.0, 2.0]), "valence")
    with pytest.raises(InputError, match="unknown auxiliary families"):
        AuxiliarySpec(("gestures",))
    with pytest.raises(InputError, match="has no column 'label_arousal'"):
        build_auxiliary_targets(table, "arousal")


def test_families_without_any_data_are_reported():
    usable, empty = available_families(_table(au05_r=np.arange(8.0), au17_r=1.0, au20_r=1.0, au25_r=1.0))
    assert empty == ["prosody"] and usable == ["actions", "historical", "future"]
