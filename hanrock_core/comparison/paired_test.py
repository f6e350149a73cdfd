"""The paired test: two conditions' selected configurations compared over both sources of noise.

The paper's test (appendix A.4, significance.py) resamples the trials of each condition and reads the
test value of the best-dev one; it never resamples the training seed or the test set, so with 3-4
trials it has little power and can still call seed noise significant.  This test asks the question a
reader of Table 1 asks: would the difference hold for another training seed and another test sample?

    seeds       the selected trial and its seed replicates (profile key `replicates`) are samples of
                each condition's training outcome; their spread on the full test set is the seed noise
    test        both conditions predict the same test talkturns, so the difference is paired on them;
                whole test dialogues are resampled (talkturns of one dialogue are correlated)

The difference d is the mean over seeds of challenger - baseline.  Its variance is the dialogue
bootstrap's (scipy.stats.bootstrap of the seed-averaged difference) plus each arm's seed variance
over its seeds; the interval, the two-sided p-value and the minimum detectable effect (80% power at
p < 0.05) come from a t distribution with Welch-Satterthwaite degrees of freedom, so few seeds give a
wide interval rather than a false alarm.  Metrics are computed from per-dialogue confusion counts (or
absolute-error sums), exactly as metrics.py computes them on the whole test set.  The bag-of-words
floor is one deterministic fit: no seed noise.  A seed ensemble (the seeds' outputs averaged) is one
model whose seed noise is taken as that of its members' mean.  Its false-positive rate and power are measured, not
assumed: `hanrock calibrate` (calibration.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

METHOD = "paired"
ALPHA = 0.05
POWER = 0.80
RESAMPLES = 2000


@dataclass(frozen=True)
class Arm:
    """One condition's test predictions: (S, N) class indices or values, seed by seed, on the common talkturns."""

    predictions: np.ndarray
    deterministic: bool = False  # one fit that no seed changes (the bag-of-words floor)
    # a seed ensemble (predictions (1, N)): its members' (S, N) predictions, whose spread stands for its seed noise
    members: np.ndarray | None = None

    @property
    def seeds(self) -> int:
        return int(self.predictions.shape[0] if self.members is None else self.members.shape[0])


@dataclass(frozen=True)
class PairedComparison:
    baseline_value: float  # the metric's mean over the baseline's seeds (full test set)
    challenger_value: float
    difference: float  # challenger - baseline
    ci_low: float
    ci_high: float
    p_value: float
    detectable_effect: float  # the |difference| this test finds 80% of the time at p < 0.05
    significant: bool
    better: bool  # the challenger is better (higher, or lower for MAE)
    seeds: int  # seeds per searched arm (the smaller)
    test_dialogues: int
    test_talkturns: int
    se_test: float  # standard error from resampling test dialogues
    se_seeds: float  # standard error from the seeds
    df: float


def dialogue_statistics(
    predictions: np.ndarray, truth: np.ndarray, dialogues: np.ndarray, n_dialogues: int, classes: int | None
) -> np.ndarray:
    """Per seed and dialogue, what a metric needs: (S, D, K, K) confusion counts (truth x prediction), or for
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


def _mean_difference(challenger: np.ndarray, baseline: np.ndarray, weights: np.ndarray, metric: str) -> np.ndarray:
    """(R,) seed-averaged challenger - baseline metric under dialogue weights (R, D)."""

    def averaged(stat: np.ndarray) -> np.ndarray:
        pooled = np.tensordot(weights, stat, axes=([1], [1]))  # (R, S, ...)
        return metric_from_counts(pooled, metric).mean(axis=1)

    return averaged(challenger) - averaged(baseline)


def _seed_values(
    arm: Arm, values: np.ndarray, truth: np.ndarray, dialogues: np.ndarray, n_dialogues: int, classes, metric: str
) -> np.ndarray:
    """(S,) the full-test metric per seed: the arm's own, or for an ensemble its members'.  An ensemble's seed
    variance is taken as its members' variance over S (that of their mean): averaging seeds steadies it."""
    if arm.members is None:
        return values
    counts = dialogue_statistics(arm.members, truth, dialogues, n_dialogues, classes)
    return metric_from_counts(counts.sum(1), metric)


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
) -> PairedComparison:
    """The paired test of challenger against baseline; `truth` (N,) and `dialogues` (N,) codes 0..D-1 of the
    common labelled test talkturns, `classes` the number of classes (None: regression).  A searched arm
    needs 2 seeds (the seed variance cannot be estimated from one): with fewer the result is all NaN."""
    codes, dialogues = np.unique(dialogues, return_inverse=True)
    n_dialogues = len(codes)
    stat = {
        name: dialogue_statistics(arm.predictions, truth, dialogues, n_dialogues, classes)
        for name, arm in (("baseline", baseline), ("challenger", challenger))
    }
    values = {name: metric_from_counts(s.sum(1), metric) for name, s in stat.items()}  # (S,) per seed
    difference = float(values["challenger"].mean() - values["baseline"].mean())
    searched = [arm.seeds for arm in (baseline, challenger) if not arm.deterministic]
    seeds = min(searched) if searched else 1
    if seeds < 2 or n_dialogues < 2:
        nan = float("nan")
        return PairedComparison(
            float(values["baseline"].mean()),
            float(values["challenger"].mean()),
            difference,
            nan,
            nan,
            nan,
            nan,
            False,
            (difference > 0) == higher_better and difference != 0,
            seeds,
            n_dialogues,
            len(truth),
            nan,
            nan,
            nan,
        )

    def resampled(index: np.ndarray, axis: int = -1) -> np.ndarray:
        index = np.atleast_2d(index)
        offsets = np.arange(index.shape[0])[:, None] * n_dialogues
        weights = np.bincount((index + offsets).ravel(), minlength=index.size).reshape(index.shape[0], n_dialogues)
        return _mean_difference(stat["challenger"], stat["baseline"], weights, metric)

    boot = stats.bootstrap(
        (np.arange(n_dialogues),),
        resampled,
        vectorized=True,
        n_resamples=resamples,
        batch=200,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    se_test = float(boot.standard_error)
    seed_terms = [
        (
            float(np.var(_seed_values(arm, values[name], truth, dialogues, n_dialogues, classes, metric), ddof=1))
            / arm.seeds,
            arm.seeds - 1,
        )
        for name, arm in (("baseline", baseline), ("challenger", challenger))
        if not arm.deterministic and arm.seeds > 1
    ]
    se = float(np.sqrt(se_test**2 + sum(v for v, _ in seed_terms)))
    pieces = se_test**4 / (n_dialogues - 1) + sum(v**2 / dof for v, dof in seed_terms)
    df = float(se**4 / pieces) if pieces > 0 else float(n_dialogues - 1)
    critical = float(stats.t.ppf(1 - ALPHA / 2, df))
    detectable = (critical + float(stats.t.ppf(POWER, df))) * se
    p_value = float(2 * stats.t.sf(abs(difference) / se, df)) if se > 0 else (1.0 if difference == 0 else 0.0)
    return PairedComparison(
        float(values["baseline"].mean()),
        float(values["challenger"].mean()),
        difference,
        difference - critical * se,
        difference + critical * se,
        p_value,
        float(detectable),
        p_value < ALPHA,
        (difference > 0) == higher_better and difference != 0,
        seeds,
        n_dialogues,
        len(truth),
        se_test,
        float(np.sqrt(sum(v for v, _ in seed_terms))),
        df,
    )


__all__ = ["ALPHA", "METHOD", "POWER", "Arm", "PairedComparison", "compare_paired", "metric_from_counts"]
