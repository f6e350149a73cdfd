"""The paired test: two conditions compared over both sources of noise, each counted once.

The paper's test (appendix A.4, significance.py) resamples the trials of each condition and reads the
test value of the best-dev one; it never resamples the training seed or the test set.  This test asks
whether a difference would hold for other training seeds and another test sample:

    seeds       rows of an arm are its training outcomes: the seeds of one configuration, or the slots of a
                whole search (`paired`: row k of both arms is slot k, the same configuration and seed)
    test        both arms predict the same test talkturns, so the difference is paired on them; whole test
                dialogues are resampled (talkturns of one dialogue are correlated)

The design is crossed (seeds x test dialogues).  The difference d is the mean over rows of challenger -
baseline, and its variance has two parts, each counted once (docs/studies.md, "The paired test's
variance"):

    Var(d) = sum over arms of V/S   +   T
    V/S    the seed variance of an arm's mean on this test set: V the variance over its S rows of their
           full-test metric (paired: of the row differences); it holds the seeds' talkturn-by-talkturn
           churn as well as their overall luck
    T      what another test sample would change in the seeds' *expected* difference: the dialogue
           bootstrap's variance of the row-averaged difference, less the churn it also holds (each row's
           deviation from its arm's mean under the resamples, whose variance is that churn; the method of
           moments).  It is not clipped at 0: where the true T is 0 its estimate falls below 0 as often as
           above, and clipping made the variance 11% too large (the sum with V/S stays positive)

Counting the churn in both parts (as this test did before) made it miscalibrated: false-positive rates
of 0.003-0.023 at a nominal 0.05 and 10 points of power lost at +0.02.  The interval, the two-sided
p-value and the detectable effect come from a t distribution whose Welch-Satterthwaite degrees of freedom
count each part's own (S - 1 for V, D - 1 for T), so 2-5 seeds give wide intervals rather than false
alarms.  A seed permutation p-value (rows' labels exchanged between the arms, or signs of slot
differences flipped) is reported beside it as a check that depends on no variance formula.

Each comparison ends in one of four verdicts: better or worse (p < 0.05), equivalent (two one-sided
tests reject a difference of at least the margin: the smallest effect worth finding, MARGIN of a
classification metric or MAE_MARGIN of the baseline's MAE), else undecided.  The detectable effect (what
the test finds 80% of the time) is a planning figure, never a conclusion.  Metrics are computed from
per-dialogue confusion counts (or absolute-error sums), exactly as metrics.py computes them.  The floor
is one deterministic fit: no seed variance.  A seed ensemble (its members' outputs averaged) is one model
whose seed variance is its members' mean's.  `paired_simulation.py` and `hanrock calibrate` measure the
false-positive rate and power.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

METHOD = "paired"
ALPHA = 0.05
POWER = 0.80
RESAMPLES = 2000
MARGIN = 0.03  # the smallest difference worth finding in a classification metric
MAE_MARGIN = 0.05  # ... in MAE: this share of the baseline's MAE
VERDICTS = ("better", "worse", "equivalent", "undecided")
PERMUTATIONS = 10_000  # at most this many relabellings for the seed permutation p-value
BATCH = 200  # resamples computed at a time


@dataclass(frozen=True)
class Arm:
    """One condition's test predictions: (S, N) class indices or values, row by row, on the common talkturns."""

    predictions: np.ndarray
    deterministic: bool = False  # one fit that no seed changes (the bag-of-words floor)
    # a seed ensemble (predictions (1, N)): its members' (S, N) predictions, whose spread stands for its seed noise
    members: np.ndarray | None = None

    @property
    def seeds(self) -> int:
        return int(self.predictions.shape[0] if self.members is None else self.members.shape[0])


@dataclass(frozen=True)
class PairedComparison:
    baseline_value: float  # the metric's mean over the baseline's rows (full test set)
    challenger_value: float
    difference: float  # challenger - baseline
    ci_low: float
    ci_high: float
    p_value: float
    detectable_effect: float  # the |difference| this test finds 80% of the time at p < 0.05 (planning only)
    significant: bool
    better: bool  # the challenger is better (higher, or lower for MAE)
    seeds: int  # rows per searched arm (the smaller)
    test_dialogues: int
    test_talkturns: int
    se_test: float  # standard error from the test sample (the seeds' churn taken out; 0 where its estimate is < 0)
    se_seeds: float  # standard error from the seeds on this test set
    df: float
    margin: float = float("nan")  # the equivalence margin used
    p_equivalence: float = float("nan")  # the larger p of the two one-sided tests against +-margin
    verdict: str = "undecided"  # better, worse, equivalent or undecided
    p_seed_permutation: float = float("nan")  # the check: rows relabelled between the arms (seed noise only)
    paired_rows: bool = False  # row k of both arms is slot k of a search


def dialogue_statistics(
    predictions: np.ndarray, truth: np.ndarray, dialogues: np.ndarray, n_dialogues: int, classes: int | None
) -> np.ndarray:
    """Per row and dialogue, what a metric needs: (S, D, K, K) confusion counts (truth x prediction), or for
    regression (S, D, 2) sums of absolute errors and counts."""
    seeds = predictions.shape[0]
    if classes is None:
        errors = np.abs(predictions - truth[None, :])
        out = np.zeros((seeds, n_dialogues, 2))
        for s in range(seeds):
            out[s, :, 0] = np.bincount(dialogues, weights=errors[s], minlength=n_dialogues)
        out[:, :, 1] = np.bincount(dialogues, minlength=n_dialogues)[None, :]
        return out
    cell = (dialogues * classes + truth)[None, :] * classes + predictions.astype(np.int64)  # (S, N)
    counts = np.stack([np.bincount(row, minlength=n_dialogues * classes * classes) for row in cell])
    return counts.reshape(seeds, n_dialogues, classes, classes).astype(float)


def metric_from_counts(counts: np.ndarray, metric: str) -> np.ndarray:
    """The metric of confusion matrices (..., K, K) or regression sums (..., 2), as metrics.py computes it."""
    if metric == "mae":
        return counts[..., 0] / np.maximum(counts[..., 1], 1e-12)
    tp = np.diagonal(counts, axis1=-2, axis2=-1)
    support = counts.sum(-1)  # true talkturns per class
    predicted = counts.sum(-2)
    total = support.sum(-1)
    if metric == "accuracy":
        return tp.sum(-1) / np.maximum(total, 1e-12)
    if metric == "balanced_accuracy":  # mean recall over the classes present
        present = support > 0
        recall = np.where(present, tp / np.maximum(support, 1e-12), 0.0)
        return recall.sum(-1) / np.maximum(present.sum(-1), 1)
    denominator = support + predicted
    f1 = np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1e-12), 0.0)  # zero_division=0
    if metric == "macro_f1":
        return f1.mean(-1)
    if metric == "weighted_f1":
        return (f1 * support).sum(-1) / np.maximum(total, 1e-12)
    raise ValueError(f"the paired test has no formula for metric {metric!r}")


def resampled_metrics(stat: np.ndarray, weights: np.ndarray, metric: str) -> np.ndarray:
    """(R, S) each row's metric under each resample of dialogues (`weights` (R, D): how often each is drawn)."""
    pooled = np.tensordot(weights, stat, axes=([1], [1]))  # (R, S, ...)
    return metric_from_counts(pooled, metric)


def bootstrap_weights(n_dialogues: int, resamples: int, seed: int) -> np.ndarray:
    """(R, D) counts of each dialogue in each resample (whole dialogues drawn with replacement)."""
    draws = np.random.default_rng(seed).integers(0, n_dialogues, (resamples, n_dialogues))
    offsets = np.arange(resamples)[:, None] * n_dialogues
    return np.bincount((draws + offsets).ravel(), minlength=resamples * n_dialogues).reshape(resamples, n_dialogues)


def churn(resampled: np.ndarray, n_dialogues: int) -> float:
    """The part of a row-mean's test variance that is each row's own (seed x talkturn churn): from the variance
    of each row's deviation from the rows' mean under the resamples (R, S), method of moments."""
    rows = resampled.shape[1]
    if rows < 2:
        return 0.0
    deviations = resampled - resampled.mean(axis=1, keepdims=True)
    return float(deviations.var(axis=0, ddof=1).mean()) / (rows - 1) * n_dialogues / (n_dialogues - 1)


def compare_paired(
    baseline: Arm,
    challenger: Arm,
    truth: np.ndarray,
    dialogues: np.ndarray,
    metric: str,
    classes: int | None,
    higher_better: bool,
    resamples: int = RESAMPLES,
    seed: int = 0,
    margin: float | None = None,
    paired: bool = False,
) -> PairedComparison:
    """The paired test of challenger against baseline; `truth` (N,) and `dialogues` (N,) of the common labelled
    test talkturns, `classes` the number of classes (None: regression).  `paired`: row k of both arms is slot
    k of one search (the same configuration and seed), so rows are compared slot by slot.  `margin` (default
    MARGIN, or MAE_MARGIN of the baseline's MAE) bounds equivalence.  A searched arm needs 2 rows: with fewer
    the interval and p are NaN and the verdict undecided."""
    codes, dialogues = np.unique(dialogues, return_inverse=True)
    n_dialogues = len(codes)
    arms = {"baseline": baseline, "challenger": challenger}
    stat = {
        name: dialogue_statistics(a.predictions, truth, dialogues, n_dialogues, classes) for name, a in arms.items()
    }
    values = {name: metric_from_counts(s.sum(1), metric) for name, s in stat.items()}  # (S,) full test
    difference = float(values["challenger"].mean() - values["baseline"].mean())
    margin = _margin(metric, float(values["baseline"].mean()), margin)
    if paired and baseline.predictions.shape[0] != challenger.predictions.shape[0]:
        raise ValueError("paired arms need the same rows (slot k in both)")
    searched = [a.seeds for a in arms.values() if not a.deterministic]
    seeds = min(searched) if searched else 1
    better = (difference > 0) == higher_better and difference != 0
    common = (values["baseline"].mean(), values["challenger"].mean(), difference)
    if seeds < 2 or n_dialogues < 2:
        nan = float("nan")
        return PairedComparison(*map(float, common), nan, nan, nan, nan, False, better, seeds, n_dialogues,
                                len(truth), nan, nan, nan, margin, nan, "undecided", nan, paired)  # fmt: skip
    members = {
        name: dialogue_statistics(a.members, truth, dialogues, n_dialogues, classes)
        for name, a in arms.items()
        if a.members is not None
    }
    raw, churned = _test_variances(stat, members, arms, paired, n_dialogues, metric, resamples, seed)
    seed_terms = _seed_terms(values, members, arms, paired, metric)  # [(V/S, S - 1)]
    pure = raw - churned  # the test-sample term T, unbiased: below 0 by chance where T is about 0
    se_seeds2 = sum(v for v, _ in seed_terms)
    se = math.sqrt(pure + se_seeds2 if pure + se_seeds2 > 0 else se_seeds2)
    # Welch-Satterthwaite over the parts that carry variance (T counts only where its estimate is above 0)
    pieces = max(pure, 0.0) ** 2 / (n_dialogues - 1) + sum(v**2 / dof for v, dof in seed_terms)
    df = float((max(pure, 0.0) + se_seeds2) ** 2 / pieces) if pieces > 0 else float(n_dialogues - 1)
    critical = float(stats.t.ppf(1 - ALPHA / 2, df))
    if se > 0:
        p_value = float(2 * stats.t.sf(abs(difference) / se, df))
        p_equivalence = float(
            max(stats.t.sf((difference + margin) / se, df), stats.t.cdf((difference - margin) / se, df))
        )
    else:
        p_value = 1.0 if difference == 0 else 0.0
        p_equivalence = 0.0 if abs(difference) < margin else 1.0
    significant = p_value < ALPHA
    verdict = (
        ("better" if better else "worse") if significant else "equivalent" if p_equivalence < ALPHA else "undecided"
    )
    return PairedComparison(
        *map(float, common),
        difference - critical * se,
        difference + critical * se,
        p_value,
        float((critical + float(stats.t.ppf(POWER, df))) * se),
        significant,
        better,
        seeds,
        n_dialogues,
        len(truth),
        math.sqrt(max(pure, 0.0)),
        math.sqrt(se_seeds2),
        df,
        margin,
        p_equivalence,
        verdict,
        _seed_permutation_p(values, arms, paired, seed),
        paired,
    )


def _margin(metric: str, baseline_value: float, margin: float | None) -> float:
    """The equivalence margin: the one given, else MARGIN of a classification metric or MAE_MARGIN of the
    baseline's MAE."""
    if margin is not None:
        return float(margin)
    return MAE_MARGIN * baseline_value if metric == "mae" else MARGIN


def _test_variances(stat, members, arms, paired: bool, n_dialogues: int, metric: str, resamples: int, seed: int):
    """The dialogue bootstrap's variance of the row-averaged difference (`raw`), and the churn it holds: the
    rows' own test noise, counted in the seed term already (`churned`); both with the D/(D-1) correction."""
    raw_parts, churn_parts = [], {name: [] for name in arms}
    for start in range(0, resamples, BATCH):
        weights = bootstrap_weights(n_dialogues, min(BATCH, resamples - start), seed + start)
        per_row = {name: resampled_metrics(s, weights, metric) for name, s in stat.items()}  # (R, S)
        raw_parts.append(per_row["challenger"].mean(1) - per_row["baseline"].mean(1))
        if paired:
            churn_parts["challenger"].append(per_row["challenger"] - per_row["baseline"])
            continue
        for name, arm in arms.items():
            if arm.deterministic:
                continue
            source = resampled_metrics(members[name], weights, metric) if name in members else per_row[name]
            churn_parts[name].append(source)
    raw = float(np.var(np.concatenate(raw_parts), ddof=1)) * n_dialogues / (n_dialogues - 1)
    # an ensemble arm is one row: its churn is taken as its members' mean's
    churned = sum(churn(np.concatenate(parts), n_dialogues) for parts in churn_parts.values() if parts)
    return raw, churned


def _seed_terms(values, members, arms, paired: bool, metric: str) -> list[tuple[float, int]]:
    """(V / S, S - 1) of each arm with seed noise: V the variance of its rows' full-test metric (an ensemble:
    its members'); paired rows: one term, the variance of the slot differences."""
    if paired:
        rows = values["challenger"] - values["baseline"]
        return [(float(np.var(rows, ddof=1)) / len(rows), len(rows) - 1)]
    terms = []
    for name, arm in arms.items():
        if arm.deterministic:
            continue
        seeds = metric_from_counts(members[name].sum(1), metric) if name in members else values[name]
        if len(seeds) > 1:
            terms.append((float(np.var(seeds, ddof=1)) / len(seeds), len(seeds) - 1))
    return terms


def _seed_permutation_p(values, arms, paired: bool, seed: int) -> float:
    """Two-sided p of the row-mean difference when rows' condition labels are exchanged (paired: the signs of
    slot differences flipped), enumerated when few, else PERMUTATIONS drawn; NaN for a floor or an ensemble."""
    if any(a.deterministic or a.members is not None for a in arms.values()):
        return float("nan")
    base, chal = values["baseline"], values["challenger"]
    observed = abs(chal.mean() - base.mean()) - 1e-12
    rng = np.random.default_rng(seed)
    if paired:
        gaps = chal - base
        if 2 ** len(gaps) <= PERMUTATIONS:
            signs = np.array(list(itertools.product((1, -1), repeat=len(gaps))))
        else:
            signs = rng.choice((1, -1), (PERMUTATIONS, len(gaps)))
        return float((np.abs((signs * gaps).mean(1)) >= observed).mean())
    pooled, n = np.concatenate([base, chal]), len(chal)
    if math.comb(len(pooled), n) <= PERMUTATIONS:
        picks = [list(c) for c in itertools.combinations(range(len(pooled)), n)]
    else:
        picks = [rng.permutation(len(pooled))[:n] for _ in range(PERMUTATIONS)]
    total = pooled.sum()
    gaps = [abs(pooled[p].sum() / n - (total - pooled[p].sum()) / (len(pooled) - n)) for p in picks]
    return float(np.mean(np.array(gaps) >= observed))


__all__ = [
    "ALPHA",
    "MARGIN",
    "MAE_MARGIN",
    "METHOD",
    "POWER",
    "VERDICTS",
    "Arm",
    "PairedComparison",
    "bootstrap_weights",
    "compare_paired",
    "metric_from_counts",
    "resampled_metrics",
]
