"""The paired test (seeds x test dialogues): its metrics are metrics.py's, its two noise terms are what
they claim, it answers by both seeds and test sample, and a study stores what recomputes it."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hanrock_core.base.home import Home
from hanrock_core.base.metrics import classification_metrics, regression_metrics
from hanrock_core.base.results import query
from hanrock_core.comparison.paired_comparison import (
    Arm,
    bootstrap_weights,
    compare_paired,
    dialogue_statistics,
    metric_from_counts,
)
from hanrock_core.comparison.paired_simulation import REGIMES, simulate
from hanrock_core.comparison.significance import paired_table
from hanrock_core.comparison.study_progress import write_significance_tables
from hanrock_core.study.profiles import load_profile
from hanrock_core.study.search import run_hypothesis

from .test_search import TINY_PROFILE, _partition

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _own_random_draws(request):
    """Each test draws from its own seed: its data never depends on which tests ran before it in its worker."""
    global RNG
    RNG = np.random.default_rng(zlib.crc32(request.node.name.encode()))


def _noisy(truth: np.ndarray, accuracy: float, seeds: int, classes: int, rng=None) -> np.ndarray:
    """Predictions right with probability `accuracy`, else a random class: (seeds, N)."""
    rng = RNG if rng is None else rng
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


def test_each_noise_is_counted_once_the_seed_spread_and_the_test_sample_without_the_churn():
    """se_seeds: each arm's seed variance on the test set over its seeds; se_test: the dialogue bootstrap of the
    seed-averaged difference less the seeds' own churn it also holds (issue 42: it was counted twice)."""
    truth = RNG.integers(0, 2, 400)
    dialogues = np.repeat(np.arange(20), 20)
    hard = np.repeat(RNG.normal(0, 0.15, 20), 20)  # dialogues where the challenger gains or loses
    base = _noisy(truth, 0.7, 4, 2)
    right = RNG.random((4, 400)) < np.clip(0.72 + hard, 0, 1)[None, :]
    challenger = np.where(right, truth[None, :], 1 - truth[None, :])
    result = compare_paired(Arm(base), Arm(challenger), truth, dialogues, "accuracy", 2, True, resamples=4000)
    correct = {"b": (base == truth).reshape(4, 20, 20), "c": (challenger == truth).reshape(4, 20, 20)}
    per_seed = {name: c.mean((1, 2)) for name, c in correct.items()}
    assert result.se_seeds == pytest.approx(np.sqrt(per_seed["b"].var(ddof=1) / 4 + per_seed["c"].var(ddof=1) / 4))
    # by hand, with the test's own draws of dialogues: the raw bootstrap and each arm's churn
    draws = np.concatenate([bootstrap_weights(20, 200, start) for start in range(0, 4000, 200)])  # (R, D)
    resampled = {
        name: np.einsum("rd,sdt->rs", draws, c) / (20 * draws.sum(1, keepdims=True)) for name, c in correct.items()
    }
    raw = np.var(resampled["c"].mean(1) - resampled["b"].mean(1), ddof=1) * 20 / 19
    churned = sum((m - m.mean(1, keepdims=True)).var(0, ddof=1).mean() / 3 * 20 / 19 for m in resampled.values())
    assert result.se_test**2 == pytest.approx(max(raw - churned, 0.0), rel=1e-6)
    assert result.se_test > 0.01  # the per-dialogue gains are a real test-sample term
    assert result.difference == pytest.approx(per_seed["c"].mean() - per_seed["b"].mean())
    se = np.sqrt(result.se_test**2 + result.se_seeds**2)
    assert result.ci_high - result.difference == pytest.approx(stats.t.ppf(0.975, result.df) * se)


def _bootstrap_terms(correct: dict, dialogues: int, per_dialogue: int, resamples: int) -> tuple[float, float]:
    """By hand, with compare_paired's own draws of dialogues: the raw bootstrap variance of the seed-averaged
    accuracy difference and the churn it holds (each arm's rows' deviations, method of moments)."""
    draws = np.concatenate([bootstrap_weights(dialogues, 200, start) for start in range(0, resamples, 200)])
    resampled = {
        name: np.einsum("rd,sdt->rs", draws, c) / (per_dialogue * draws.sum(1, keepdims=True))
        for name, c in correct.items()
    }
    shrink = dialogues / (dialogues - 1)
    raw = np.var(resampled["c"].mean(1) - resampled["b"].mean(1), ddof=1) * shrink
    churned = sum(
        (m - m.mean(1, keepdims=True)).var(0, ddof=1).mean() / (m.shape[1] - 1) * shrink for m in resampled.values()
    )
    return float(raw), float(churned)


def test_the_test_sample_term_is_not_clipped_at_zero_where_only_churn_differs():
    """With no test-sample term at all (both arms the same model, seeds differing talkturn by talkturn), the
    estimate of that term is as often below 0 as above; clipping it at 0 made the variance 11% too large and
    cost power (issue 42).  The variance is seeds + (raw - churn) either way; se_test shows the part above 0."""
    truth = RNG.integers(0, 2, 400)
    dialogues = np.repeat(np.arange(20), 20)
    negative = 0
    for _ in range(6):
        base, challenger = _noisy(truth, 0.7, 4, 2), _noisy(truth, 0.7, 4, 2)
        result = compare_paired(Arm(base), Arm(challenger), truth, dialogues, "accuracy", 2, True, resamples=1000)
        correct = {"b": (base == truth).reshape(4, 20, 20), "c": (challenger == truth).reshape(4, 20, 20)}
        raw, churned = _bootstrap_terms(correct, 20, 20, 1000)
        negative += raw < churned
        se = np.sqrt(raw - churned + result.se_seeds**2)
        assert result.ci_high - result.difference == pytest.approx(stats.t.ppf(0.975, result.df) * se, rel=1e-6)
        assert result.se_test**2 == pytest.approx(max(raw - churned, 0.0), rel=1e-6, abs=1e-12)
    assert negative >= 1  # the draws met the case the clipping got wrong


def test_the_test_is_calibrated_where_seeds_disagree_talkturn_by_talkturn():
    """Simulated comparisons with no effect and seed noise that is mostly churn: the mean estimated variance is
    the variance of the difference over replicates (it was about twice that), and about 5% are significant."""
    rows = simulate(REGIMES[0], 400, seed=1, resamples=200)
    ratio = (rows["se"] ** 2).mean() / rows["difference"].var()
    assert 0.8 < ratio < 1.35, ratio
    assert 0.015 <= rows["significant"].mean() <= 0.09


def test_four_verdicts_and_a_seed_permutation_check():
    truth = RNG.integers(0, 4, 1200)
    dialogues = np.repeat(np.arange(60), 20)
    same = _noisy(truth, 0.6, 5, 4)
    equal = compare_paired(Arm(same), Arm(_noisy(truth, 0.6, 5, 4)), truth, dialogues, "accuracy", 4, True)
    assert equal.verdict == "equivalent" and equal.p_equivalence < 0.05 and not equal.significant
    assert equal.margin == 0.03 and 0.05 < equal.p_seed_permutation <= 1
    better = compare_paired(Arm(same), Arm(_noisy(truth, 0.75, 5, 4)), truth, dialogues, "accuracy", 4, True)
    assert better.verdict == "better" and better.p_seed_permutation == pytest.approx(2 / 252)  # 5 + 5 seeds
    worse = compare_paired(Arm(same), Arm(_noisy(truth, 0.45, 5, 4)), truth, dialogues, "accuracy", 4, True)
    assert worse.verdict == "worse"
    few = compare_paired(Arm(same[:2]), Arm(_noisy(truth, 0.61, 2, 4)), truth, dialogues[:], "accuracy", 4, True,
                         margin=0.001)  # fmt: skip
    assert few.verdict == "undecided" and few.p_equivalence >= 0.05 and not few.significant
    values = RNG.normal(3, 1, 1200)  # MAE: the margin is 5% of the baseline's
    guess = values[None, :] + RNG.normal(0, 0.5, (3, 1200))
    mae = compare_paired(Arm(guess), Arm(guess + 0.0), values, dialogues, "mae", None, False)
    assert mae.margin == pytest.approx(0.05 * mae.baseline_value) and mae.verdict == "equivalent"


def test_slot_paired_rows_compare_slot_by_slot():
    """Row k of both arms is slot k of a search (the same configuration and seed): configurations that differ
    a lot from slot to slot cancel in the differences, and the sign-flip check has 2^K relabellings."""
    truth = RNG.integers(0, 3, 900)
    dialogues = np.repeat(np.arange(45), 20)
    quality = [0.4, 0.5, 0.6, 0.7, 0.8, 0.55]  # six configurations, from poor to good
    base = np.stack([_noisy(truth, q, 1, 3)[0] for q in quality])
    gain = np.stack([_noisy(truth, q + 0.04, 1, 3)[0] for q in quality])
    paired = compare_paired(Arm(base), Arm(gain), truth, dialogues, "accuracy", 3, True, paired=True)
    unpaired = compare_paired(Arm(base), Arm(gain), truth, dialogues, "accuracy", 3, True)
    assert paired.paired_rows and paired.seeds == 6 and paired.se_seeds < unpaired.se_seeds / 3
    assert paired.verdict == "better" and unpaired.verdict == "undecided"
    assert paired.p_seed_permutation == pytest.approx(2 / 64)
    with pytest.raises(ValueError, match="same rows"):
        compare_paired(Arm(base), Arm(gain[:5]), truth, dialogues, "accuracy", 3, True, paired=True)


def test_more_seeds_detect_smaller_effects_and_one_seed_cannot_be_tested():
    truth = RNG.integers(0, 4, 500)
    dialogues = np.repeat(np.arange(50), 10)
    effects = []
    for seeds in (2, 8):  # on average over draws: 2 seeds' variance is itself a noisy estimate
        draws = [(Arm(_noisy(truth, 0.6, seeds, 4)), Arm(_noisy(truth, 0.6, seeds, 4))) for _ in range(10)]
        found = [compare_paired(a, b, truth, dialogues, "balanced_accuracy", 4, True, 400) for a, b in draws]
        effects.append(np.mean([f.detectable_effect for f in found]))
    assert effects[1] < effects[0] / 2
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
    # han_rock vs flat, and each of them against the floor; each one's seed ensemble against the floor and the two
    # ensembles against each other (paired); han_rock vs flat slot by slot over both searches, and each search's
    # every slot against the floor (search)
    assert table.groupby("method").size().to_dict() == {"paired": 6, "paper": 3, "search": 3}
    assert set(table.loc[table["method"] == "search", "baseline"]) == {"flat", "floor"}
    search = table[(table["method"] == "search") & (table["baseline"] != "floor")].iloc[0]
    assert (search["baseline"], search["challenger"], search["seeds"]) == ("flat", "han_rock", 2)
    assert search["verdict"] in ("better", "worse", "equivalent", "undecided") and "slot k" in search["estimand"]
    slots = query(db, "SELECT * FROM slot_predictions")
    assert slots.groupby("condition")["trial"].nunique().to_dict() == {"flat": 2, "han_rock": 2}
    again_search = paired_table(
        query(db, "SELECT * FROM seed_predictions"), query(db, "SELECT * FROM trials"), "h3", [("flat", "han_rock")],
        slots=slots,
    )  # fmt: skip
    assert again_search.set_index("method").loc["search", "difference"] == pytest.approx(search["difference"])
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
    assert both.groupby("dataset").size().to_dict() == {"iemocap": 6, "other": 3}
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


def test_a_planted_effect_gains_delta_on_average_fixing_and_breaking_more_in_some_dialogues():
    """The planted effect of the calibration is a realistic one: its expected gain is delta, its realised gain
    varies from draw to draw, it breaks some right predictions while it fixes wrong ones, and some dialogues
    gain more than others (issue 42: the old one fixed the same share everywhere and broke nothing)."""
    from hanrock_core.comparison.calibration import plant

    truth = RNG.integers(0, 4, 800)
    dialogues = np.repeat(np.arange(40), 20)
    predictions = _noisy(truth, 0.6, 5, 4).astype(np.int64)
    rng = np.random.default_rng(3)
    before = (predictions == truth).mean(1)
    draws = [plant(predictions, truth, dialogues, 0.05, "accuracy", 4, rng) for _ in range(60)]
    gains = np.array([((d == truth).mean(1) - before).mean() for d in draws])
    assert gains.mean() == pytest.approx(0.05, abs=0.004) and gains.std() > 0.002
    right = predictions == truth[None, :]
    assert all((d[right] != predictions[right]).any() for d in draws[:5])  # some right predictions broken
    per_dialogue = ((draws[0] == truth) & ~right).reshape(5, 40, 20).sum((0, 2))
    assert per_dialogue.std() > 1  # fixed more often in some dialogues than in others
    values = RNG.normal(3, 1, 800)
    guesses = values[None, :] + RNG.normal(0, 0.5, (3, 800))
    shrunk = [plant(guesses, values, dialogues, 0.1, "mae", None, rng) for _ in range(30)]
    before_mae = np.abs(guesses - values).mean()
    assert np.mean([before_mae - np.abs(g - values).mean() for g in shrunk]) == pytest.approx(0.1, abs=0.02)


def test_hanrock_calibrate_runs_whole_studies_and_judges_pairs_of_them(tiny_iemocap, tmp_path, capsys, monkeypatch):
    """The command end to end: two complete H1 studies with their own search seeds; A/A of every condition by the
    search test and by the selected configurations' seeds, planted effects, each study's own verdicts."""
    from .helpers import run_cli

    settings = tmp_path / "hanrock.yaml"
    settings.write_text(f"datasets:\n  iemocap: {{root: {tiny_iemocap}}}\n")
    monkeypatch.setenv("HANROCK_CONFIG", str(settings))
    profile = tmp_path / "p.yaml"
    profile.write_text(TINY_PROFILE.format(trials=3) + "replicates: 1\n")
    out = tmp_path / "cal"
    args = ["calibrate", "iemocap.emotion", "--profile", profile, "--studies", "2", "--planted", "0.02,0.05"]
    code, printed, err = run_cli(capsys, *args, "--out", out)
    assert code == 0, err
    verdicts = pd.read_parquet(out / "verdicts.parquet")
    counts = verdicts.groupby("kind").size().to_dict()
    assert counts == {"A/A search": 3, "A/A seeds": 3, "planted": 2, "challenger": 4}  # 3 conditions, 2 effects, 2 x 2
    assert set(verdicts["verdict"]) <= {"better", "worse", "equivalent", "undecided"}
    search = verdicts[verdicts["kind"] == "A/A search"]
    assert (search["rows"] == 3).all()  # three slots paired slot by slot
    summary = pd.read_parquet(out / "summary.parquet")
    assert list(summary["measure"][:4]) == [
        "false-positive rate at nominal 0.05",
        "false-positive rate at nominal 0.05",
        "power at +0.02",
        "power at +0.05",
    ]
    assert summary["rate"].between(0, 1).all() and (summary["rate_low"] <= summary["rate_high"]).all()
    assert "study-0" in printed and "study-1" in printed
    code, again, _ = run_cli(capsys, *args, "--out", out)  # again: both studies are on disk, nothing is trained
    assert code == 0 and " epoch 1:" not in again
