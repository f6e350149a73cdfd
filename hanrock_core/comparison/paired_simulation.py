"""Simulated comparisons with a known truth: how often the paired test errs, and how often it finds an effect.

Each replicate draws a new test set (dialogues of talkturns, each talkturn with its own difficulty, each
dialogue harder or easier) and two conditions' seeds.  A seed gets a talkturn right with the chance its
difficulty gives, shifted by the seed's own luck (`seed_sd`) and the condition's effect; the draw is the
seed's own, so seeds of one condition disagree talkturn by talkturn (churn) as real seeds do.  A wrong
talkturn gets another class at random.  The challenger's effect may vary by dialogue (`effect_sd`, its
population mean unchanged) and by seed (`effect_seed_sd`): it fixes some talkturns and breaks others.
The effect is given as the gain of the population's expected accuracy; `effect_shift` turns it into the
shift of the log-odds that gives it.

`simulate` runs `compare_paired` on many replicates of a `Regime` and returns each replicate's verdict;
`tests/bench_paired_comparison.py` prints the false-positive rate and power with binomial intervals.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import expit

from hanrock_core.comparison.paired_comparison import Arm, compare_paired


@dataclass(frozen=True)
class Regime:
    """One noise regime of a comparison (defaults: the demo's size, about 1,800 test talkturns in 50 dialogues,
    5 seeds a condition, seed and test sd of a model's accuracy about 0.01)."""

    name: str
    dialogues: int = 50
    talkturns: int = 36  # per dialogue
    classes: int = 4
    seeds: int = 5
    base_logit: float = 0.6  # a talkturn's log-odds of being right, on average (accuracy about 0.6)
    dialogue_sd: float = 0.4  # how much dialogues differ in difficulty (log-odds)
    talkturn_sd: float = 1.5  # how much talkturns differ: larger, fewer talkturns that seeds disagree on
    seed_sd: float = 0.0  # a seed's overall luck (log-odds), beyond its talkturn-by-talkturn churn
    effect: float = 0.0  # the challenger's gain of expected accuracy in the population
    effect_sd: float = 0.0  # per-dialogue spread of the effect (log-odds), mean zero
    effect_seed_sd: float = 0.0  # per-seed spread of the effect (log-odds), mean zero

    def with_effect(self, effect: float) -> Regime:
        return replace(self, effect=effect, name=f"{self.name}, effect {effect:+.2f}")


REGIMES = (
    Regime("churn-dominated null"),
    Regime("seed-dominated null", talkturn_sd=3.0, seed_sd=0.06),
    Regime("heterogeneous null", effect_sd=0.3, effect_seed_sd=0.03),
    Regime("few seeds (3), churn", seeds=3),
    Regime("two seeds, churn", seeds=2),
)


def effect_shift(regime: Regime, effect: float, draws: int = 400_000, seed: int = 12345) -> float:
    """The log-odds shift that raises the population's expected accuracy by `effect` (bisection)."""
    rng = np.random.default_rng(seed)
    logits = (
        regime.base_logit
        + rng.normal(0, regime.dialogue_sd, draws)
        + rng.normal(0, regime.talkturn_sd, draws)
        + rng.normal(0, regime.effect_sd, draws)
    )
    base = expit(logits).mean()
    low, high = -5.0, 5.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if expit(logits + middle).mean() - base < effect else (low, middle)
    return (low + high) / 2


def draw_comparison(regime: Regime, rng: np.random.Generator, shift: float = 0.0):
    """One replicate: (baseline predictions (S, N), challenger predictions (S, N), truth (N,), dialogues (N,))."""
    d, t, k, s = regime.dialogues, regime.talkturns, regime.classes, regime.seeds
    dialogues = np.repeat(np.arange(d), t)
    truth = rng.integers(0, k, d * t)
    difficulty = (
        regime.base_logit + rng.normal(0, regime.dialogue_sd, d)[dialogues] + rng.normal(0, regime.talkturn_sd, d * t)
    )
    heterogeneity = rng.normal(0, regime.effect_sd, d)[dialogues]

    def seeds(extra: np.ndarray) -> np.ndarray:
        luck = rng.normal(0, regime.seed_sd, (s, 1))
        right = rng.random((s, d * t)) < expit(difficulty[None, :] + luck + extra)
        wrong = (truth[None, :] + rng.integers(1, k, (s, d * t))) % k  # another class at random
        return np.where(right, truth[None, :], wrong)

    challenger_extra = shift + heterogeneity[None, :] + rng.normal(0, regime.effect_seed_sd, (s, 1))
    return seeds(np.zeros((1, 1))), seeds(challenger_extra), truth, dialogues


def simulate(
    regime: Regime, replicates: int, seed: int = 0, resamples: int = 1000, metric: str = "accuracy"
) -> pd.DataFrame:
    """`replicates` comparisons of the regime judged by `compare_paired`: one row each (difference, se, p,
    verdict); the challenger's true effect is `regime.effect` of expected accuracy."""
    rng = np.random.default_rng(seed)
    shift = effect_shift(regime, regime.effect) if regime.effect else 0.0
    rows = []
    for r in range(replicates):
        baseline, challenger, truth, dialogues = draw_comparison(regime, rng, shift)
        result = compare_paired(
            Arm(baseline), Arm(challenger), truth, dialogues, metric, regime.classes, True, resamples, seed=r
        )
        rows.append(
            {
                "regime": regime.name,
                "effect": regime.effect,
                "difference": result.difference,
                "se": (result.ci_high - result.ci_low) / 2 / _critical(result.df),
                "p_value": result.p_value,
                "significant": result.significant,
                "better": result.significant and result.better,
                "verdict": result.verdict,
                "df": result.df,
            }
        )
    return pd.DataFrame(rows)


def _critical(df: float) -> float:
    from scipy import stats

    from hanrock_core.comparison.paired_comparison import ALPHA

    return float(stats.t.ppf(1 - ALPHA / 2, df))


__all__ = ["REGIMES", "Regime", "draw_comparison", "effect_shift", "simulate"]
