"""The paired test (seeds x test dialogues): its metrics are metrics.py's, its two noise terms are what
they claim, it answers by both seeds and test sample, and a study stores what recomputes it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hanrock_core.base.home import Home
from hanrock_core.base.metrics import classification_metrics, regression_metrics
from hanrock_core.base.results import query
from hanrock_core.comparison.paired_test import Arm, compare_paired, dialogue_statistics, metric_from_counts
from hanrock_core.comparison.significance import paired_table
from hanrock_core.comparison.study_progress import write_significance_tables
from hanrock_core.study.profiles import load_profile
from hanrock_core.study.search import run_hypothesis

from .test_search import TINY_PROFILE, _partition

RNG = np.random.default_rng(0)


def _noisy(truth: np.ndarray, accuracy: float, seeds: int, classes: int, rng=RNG) -> np.ndarray:
    """Predictions right with probability `accuracy`, else a random class: (seeds, N)."""
    right = rng.random((seeds, len(truth))) < accuracy
    return np.where(right, truth[None, :], rng.integers(0, classes, (seeds, len(truth))))


@pytest.mark.parametrize("metric", ["balanced_accuracy", "weighted_f1", "macro_f1", "accuracy"])
def test_metrics_from_dialogue_counts_are_the_metrics_of_the_whole_test_set(metric):
    truth = RNG.integers(0, 3, 300)  # 3 of the 4 classes occur: class 3 is absent (macro F1 counts it as 0)
    dialogues = RNG.integers(0, 25, 300)
    predictions = _noisy(truth, 0.6, 2, 4)
    counts = dialogue_statistics(predictions, truth, dialogues, 25, 4).sum(1)
    for s in range(2):
        expected = classification_metrics(truth, predictions[s], ["a", "b", "c", "d"])[metric]
        assert metric_from_counts(counts[s], metric) == pytest.approx(expected)


def test_mae_from_dialogue_sums_is_the_mae():
    truth = RNG.normal(3, 1, 200)
    predictions = truth[None, :] + RNG.normal(0, 0.5, (3, 200))
    sums = dialogue_statistics(predictions, truth, RNG.integers(0, 10, 200), 10, None).sum(1)
    assert metric_from_counts(sums, "mae") == pytest.approx([regression_metrics(truth, p)["mae"] for p in predictions])


def test_no_difference_is_not_significant_and_a_large_one_is():
    truth = RNG.integers(0, 4, 600)
    dialogues = np.repeat(np.arange(40), 15)
    same = Arm(_noisy(truth, 0.6, 5, 4))
    result = compare_paired(same, same, truth, dialogues, "balanced_accuracy", 4, True)
    assert result.difference == 0 and not result.significant and result.p_value == pytest.approx(1.0)
    better = Arm(_noisy(truth, 0.8, 5, 4))
    result = compare_paired(same, better, truth, dialogues, "balanced_accuracy", 4, True)
    assert result.significant and result.better and result.ci_low > 0 and result.p_value < 0.001
    assert result.seeds == 5 and result.test_dialogues == 40 and result.test_talkturns == 600
    assert 0 < result.detectable_effect < result.difference


def test_the_two_noise_terms_are_the_seed_spread_and_the_dialogue_bootstrap():
    truth = RNG.integers(0, 2, 400)
    dialogues = np.repeat(np.arange(20), 20)
    base = _noisy(truth, 0.7, 4, 2)
    challenger = _noisy(truth, 0.75, 4, 2)
    result = compare_paired(Arm(base), Arm(challenger), truth, dialogues, "accuracy", 2, True, resamples=4000)
    per_seed = {name: (p == truth).mean(1) for name, p in (("b", base), ("c", challenger))}
    assert result.se_seeds == pytest.approx(np.sqrt(per_seed["b"].var(ddof=1) / 4 + per_seed["c"].var(ddof=1) / 4))
    # the test term: the spread of the seed-averaged difference over resampled dialogues, done by hand
    gain = ((challenger == truth).mean(0) - (base == truth).mean(0)).reshape(20, 20)  # per dialogue, per talkturn
    rng = np.random.default_rng(1)
    by_hand = [gain[rng.integers(0, 20, 20)].mean() for _ in range(4000)]
    assert result.se_test == pytest.approx(np.std(by_hand), rel=0.1)
    assert result.difference == pytest.approx(per_seed["c"].mean() - per_seed["b"].mean())


def test_more_seeds_detect_smaller_effects_and_one_seed_cannot_be_tested():
    truth = RNG.integers(0, 4, 500)
    dialogues = np.repeat(np.arange(50), 10)
    effects = []
    for seeds in (2, 8):
        a, b = Arm(_noisy(truth, 0.6, seeds, 4)), Arm(_noisy(truth, 0.6, seeds, 4))
        effects.append(compare_paired(a, b, truth, dialogues, "balanced_accuracy", 4, True).detectable_effect)
    assert effects[1] < effects[0]
    one = compare_paired(Arm(_noisy(truth, 0.6, 1, 4)), Arm(_noisy(truth, 0.7, 3, 4)), truth, dialogues,
                         "balanced_accuracy", 4, True)  # fmt: skip
    assert np.isnan(one.p_value) and not one.significant
    floor = Arm(_noisy(truth, 0.6, 1, 4), deterministic=True)  # one fit, no seed noise: testable
    assert not np.isnan(compare_paired(floor, Arm(_noisy(truth, 0.7, 3, 4)), truth, dialogues,
                                       "balanced_accuracy", 4, True).p_value)  # fmt: skip


def test_an_ensemble_is_one_model_whose_seed_noise_is_its_members_mean():
    truth = RNG.integers(0, 3, 400)
    dialogues = np.repeat(np.arange(40), 10)
    members = _noisy(truth, 0.6, 5, 3)
    ensemble = _noisy(truth, 0.7, 1, 3)  # stands for the members' outputs averaged
    floor = Arm(_noisy(truth, 0.55, 1, 3), deterministic=True)
    result = compare_paired(floor, Arm(ensemble, members=members), truth, dialogues, "accuracy", 3, True)
    member_values = (members == truth).mean(1)
    assert result.seeds == 5 and result.se_seeds == pytest.approx(np.sqrt(member_values.var(ddof=1) / 5))
    assert result.challenger_value == pytest.approx((ensemble == truth).mean())
    assert result.difference == pytest.approx((ensemble == truth).mean() - (floor.predictions == truth).mean())


def test_a_study_with_replicates_stores_what_recomputes_its_paired_rows(tiny_iemocap, tmp_path):
    """Every seed's test predictions are in the results database, with their dialogues: the paired rows
    recomputed from them alone equal the stored ones, and both methods have a row per comparison."""
    path = tmp_path / "p.yaml"
    path.write_text(TINY_PROFILE.format(trials=2) + "replicates: 2\n")
    profile = load_profile(path)
    part = _partition(tiny_iemocap, "emotion")
    run_hypothesis(part, profile, "h3", Home(tmp_path), log=lambda m: None)
    db = tmp_path / "results.duckdb"
    table, _ = write_significance_tables(db, "h3", profile, lambda m: None)
    # han_rock vs flat, and each of them against the floor; each one's seed ensemble against the floor (paired)
    assert table.groupby("method").size().to_dict() == {"paired": 5, "paper": 3}
    paired = table[table["method"] == "paired"].set_index(["baseline", "challenger"])
    searched = paired.drop(index=("floor",), level=0, errors="ignore")
    assert (searched["seeds"] == 3).all() and searched["detectable_effect"].notna().all()
    assert paired["p_value"].between(0, 1).all() and (paired["test_dialogues"] > 1).all()
    seeds = query(db, "SELECT * FROM seed_predictions")
    assert seeds.groupby("condition")["replicate"].nunique().to_dict() == {"flat": 3, "han_rock": 3, "floor": 1}
    assert seeds["dialogue"].notna().all()
    labelled = part.data.labelled("test")
    assert seeds.groupby(["condition", "replicate"]).size().eq(len(labelled)).all()
    trials = query(db, "SELECT * FROM trials")
    ensembles = query(db, "SELECT * FROM ensemble_predictions")
    assert ensembles.groupby("condition").size().eq(len(labelled)).all() and (ensembles["replicate"] == -1).all()
    ensemble_rows = paired.loc[[("floor", "flat ensemble"), ("floor", "han_rock ensemble")]]
    assert (ensemble_rows["seeds"] == 3).all() and ensemble_rows["p_value"].between(0, 1).all()
    stored = query(db, "SELECT condition, test_value FROM ensembles").set_index("condition")["test_value"]
    for condition in ("flat", "han_rock"):
        assert ensemble_rows.loc[("floor", f"{condition} ensemble"), "challenger_value"] == pytest.approx(
            stored[condition]
        )
    pairs = [tuple(p) for p in paired.index if not p[1].endswith(" ensemble")]
    again = paired_table(seeds, trials, "h3", pairs, ensembles=ensembles).set_index(["baseline", "challenger"])
    columns = ["difference", "ci_low", "ci_high", "p_value", "detectable_effect", "seeds", "test_dialogues"]
    pd.testing.assert_frame_equal(
        again[columns].astype(float), paired[columns].astype(float), check_like=True, check_exact=False
    )
    # a second partition without seed ensembles beside one with them (issue 41: an IndexError on main)
    both = paired_table(
        pd.concat([seeds, seeds.assign(dataset="other")]),
        pd.concat([trials, trials.assign(dataset="other")]),
        "h3",
        pairs,
        ensembles=ensembles,
    )
    assert both.groupby("dataset").size().to_dict() == {"iemocap": 5, "other": 3}
    # the selected trial's seed-0 value is the trials table's test value
    for condition, rows in seeds[seeds["replicate"] == 0].groupby("condition"):
        if condition == "floor":
            continue
        classes = part.data.classes
        index = {c: i for i, c in enumerate(classes)}
        measured = classification_metrics(rows["truth"].map(index).to_numpy(), rows["prediction"].map(index).to_numpy(),
                                          classes)["balanced_accuracy"]  # fmt: skip
        selected = trials[(trials["condition"] == condition) & (trials["trial"] == rows["trial"].iloc[0])]
        assert selected["test_value"].item() == pytest.approx(measured)


def test_a_planted_effect_is_the_effect_asked_for():
    from hanrock_core.comparison.calibration import metric_values, plant

    truth = RNG.integers(0, 4, 800)
    predictions = _noisy(truth, 0.6, 5, 4).astype(np.int64)
    improved = plant(predictions, truth, 0.05, "balanced_accuracy", 4, seed=0)
    gain = metric_values(improved, truth, "balanced_accuracy", 4) - metric_values(
        predictions, truth, "balanced_accuracy", 4
    )
    assert (
        gain.mean() == pytest.approx(0.05, abs=0.002)
        and (improved[predictions == truth[None, :]] == truth[np.where(predictions == truth[None, :])[1]]).all()
    )
    values = RNG.normal(3, 1, 300)
    guesses = values[None, :] + RNG.normal(0, 0.5, (3, 300))
    shrunk = plant(guesses, values, 0.1, "mae", None, seed=0)
    assert (
        metric_values(guesses, values, "mae", None) - metric_values(shrunk, values, "mae", None)
    ).mean() == pytest.approx(0.1)


def test_hanrock_calibrate_measures_both_methods_on_a_tiny_corpus(tiny_iemocap, tmp_path, capsys, monkeypatch):
    """The command end to end: seed runs, A/A, planted and challenger comparisons, both methods, the table."""
    from .helpers import run_cli

    settings = tmp_path / "hanrock.yaml"
    settings.write_text(f"datasets:\n  iemocap: {{root: {tiny_iemocap}}}\n")
    monkeypatch.setenv("HANROCK_CONFIG", str(settings))
    profile = tmp_path / "p.yaml"
    profile.write_text(TINY_PROFILE.format(trials=2) + "replicates: 1\n")
    out = tmp_path / "cal"
    args = ["calibrate", "iemocap.emotion", "--profile", profile, "--seeds", "4", "--comparisons", "6", "--out", out]
    monkeypatch.setattr("hanrock_core.comparison.calibration.PROGRESS_EVERY_S", 0.0)  # say how far, every time
    code, printed, err = run_cli(capsys, *args, "--workers", "1")
    assert code == 0, err
    assert "1 of 3 comparisons judged; about" in printed
    summary = pd.read_parquet(out / "summary.parquet")
    # 4 seeds make 3 different pairs of groups of 2: each A/A kind judges those 3 (6 asked)
    assert list(summary["method"]) == ["paired", "paper"] and (summary["aa_comparisons"] == 6).all()
    assert "allow 3 different pairs of groups of 2; judging 3" in printed
    assert summary["false_positive_rate"].between(0, 1).all() and summary["power"].between(0, 1).all()
    verdicts = pd.read_parquet(out / "verdicts.parquet")
    assert set(verdicts["kind"]) == {"A/A none", "A/A aphf", "planted", "challenger"}
    assert "false_positive_rate" in printed
    code, printed, _ = run_cli(capsys, *args)  # again: every seed run is on disk, nothing is trained
    assert code == 0 and "8 of 8 calibration runs on disk; training 0" in printed
