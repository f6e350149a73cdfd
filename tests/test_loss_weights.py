"""Loss weights and mutual information: sums, switched-off tasks, and the MI ranking on planted data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hanrock_core.preparation.auxiliary_target import AuxiliarySpec, build_auxiliary_targets
from hanrock_core.preparation.mi_loss_weights import SCHEMES, assign_loss_weights, mutual_information
from hanrock_core.reading.corpora import read_iemocap, read_semaine
from hanrock_core.reading.synthetic import generate

MI = pd.Series({"au05_r": 0.3, "tone_sadness": 0.1, "valence_t-1": 0.6, "valence_t+1": 0.5})


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("active", [set(MI.index), {"au05_r", "tone_sadness"}, {"valence_t+1"}, set()])
def test_weights_sum_to_one_and_are_zero_where_switched_off(scheme, active):
    w = assign_loss_weights(0.7, scheme, MI, active, np.random.default_rng(1))
    assert w.sum() == pytest.approx(1.0)
    assert (w[[t for t in MI.index if t not in active]] == 0.0).all()
    assert (w[list(active)] > 0).all()
    assert w["primary"] == (0.7 if active else 1.0)


def test_mi_schemes():
    on = ["au05_r", "valence_t-1"]
    linear = assign_loss_weights(0.6, "mi_linear", MI, on, np.random.default_rng(0))
    assert linear["au05_r"] == pytest.approx(0.4 * 0.3 / 0.9) and linear["valence_t-1"] == pytest.approx(
        0.4 * 0.6 / 0.9
    )
    softmax = assign_loss_weights(0.6, "mi_softmax", MI, on, np.random.default_rng(0))
    expected = np.exp([0.3, 0.6]) / np.exp([0.3, 0.6]).sum() * 0.4
    np.testing.assert_allclose(softmax[on], expected)
    equal = pd.Series(0.2, index=MI.index)
    uniform = assign_loss_weights(
        0.5, "mi_softmax", equal, ["au05_r", "tone_sadness", "valence_t+1"], np.random.default_rng(0)
    )
    np.testing.assert_allclose(uniform[["au05_r", "tone_sadness", "valence_t+1"]], 0.5 / 3)
    assert uniform["valence_t-1"] == 0.0
    zero = assign_loss_weights(
        0.5, "mi_linear", pd.Series(0.0, index=MI.index), ["au05_r", "tone_sadness"], np.random.default_rng(0)
    )
    np.testing.assert_allclose(zero[["au05_r", "tone_sadness"]], 0.25)


def test_random_scheme_is_seeded_and_primary_in_range():
    a = assign_loss_weights(0.8, "random", MI, set(MI.index), np.random.default_rng(5))
    b = assign_loss_weights(0.8, "random", MI, set(MI.index), np.random.default_rng(5))
    pd.testing.assert_series_equal(a, b)
    assert a["primary"] == 0.8


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("mi")
    iemocap = read_iemocap(generate("iemocap", root / "i", scale=0.15, seed=2))
    semaine = read_semaine(generate("semaine", root / "s", scale=0.1, seed=2))
    rng = np.random.default_rng(0)
    for table in (iemocap, semaine):
        table["noise"] = rng.normal(size=len(table))  # a supervisor that carries nothing
    return {"iemocap": iemocap, "semaine": semaine}


@pytest.mark.parametrize(
    "dataset, task, informative",
    [
        ("iemocap", "emotion", ["tone_happiness", "tone_sadness", "au17_r", "emotion_t-1"]),
        ("iemocap", "valence", ["tone_happiness", "au17_r", "valence_t-1", "valence_t+1"]),
        ("iemocap", "activation", ["au05_r", "au25_r", "activation_t-1"]),
        ("semaine", "valence", ["tone_happiness", "au17_r", "valence_t-1"]),
        ("semaine", "activation", ["au05_r", "au25_r", "activation_t+1"]),
    ],
)
def test_mi_ranks_planted_supervisors_above_noise(planted, dataset, task, informative):
    spec = AuxiliarySpec(extra={"control": ("noise",)})
    mi = mutual_information(build_auxiliary_targets(planted[dataset], task, spec), seed=0).set_index("task")["mi"]
    for name in informative:
        assert mi[name] > mi["noise"] + 0.05, (name, mi[name], mi["noise"])
    assert mi["noise"] < 0.05
    assert mutual_information(build_auxiliary_targets(planted[dataset], task, spec), seed=0).equals(
        mutual_information(build_auxiliary_targets(planted[dataset], task, spec), seed=0)
    )


def test_constant_target_has_zero_mi(planted):
    table = planted["iemocap"].assign(flat=1.0)
    mi = mutual_information(build_auxiliary_targets(table, "valence", AuxiliarySpec((), {"c": ("flat",)})))
    assert mi.loc[mi["task"] == "flat", "mi"].item() == 0.0
