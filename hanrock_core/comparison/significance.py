"""Significance of a challenger against a baseline, by both of the platform's methods.

`paper` (appendix A.4, vectorised): each of R resamples draws the condition's trials with replacement
(by their dev performance), selects the best-dev trial and reads its test performance.  The
element-wise differences challenger - baseline over the R resamples give a 95% interval; the
difference is significant when the interval excludes 0 (its p-value: twice the share of resampled
differences on the far side of 0).  For MAE lower is better: the best-dev trial has the lowest dev
MAE, and a negative difference is an improvement.

`search` (paired_comparison.py, slot-paired): every slot of both conditions' searches, slot k the same
configuration and seed in both, compared slot by slot on resampled test dialogues: the answer about the
conditions (no selection enters it), and the verdict a comparison of two searched conditions gets.

`paired` (paired_comparison.py): the selected configuration's seeds, paired on resampled test dialogues: the
answer about the kept models (one search's winner against the other's, each against the floor, the seed
ensembles).  Both give a verdict (better, worse, equivalent, undecided), an interval, a p-value and the
detectable effect, computed here from the stored per-talkturn test predictions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hanrock_core.base.errors import InputError
from hanrock_core.comparison.paired_comparison import METHOD as PAIRED
from hanrock_core.comparison.paired_comparison import RESAMPLES as PAIRED_RESAMPLES
from hanrock_core.comparison.paired_comparison import Arm, PairedComparison, compare_paired
from hanrock_core.learning.floor import CONDITION as FLOOR

PAPER = "paper"
SEARCH = "search"
METHODS = (PAPER, SEARCH, PAIRED)


@dataclass(frozen=True)
class Comparison:
    baseline_value: float  # test value of the baseline's best-dev trial (all trials)
    challenger_value: float
    ci_low: float  # 2.5th percentile of challenger - baseline
    ci_high: float  # 97.5th percentile
    significant: bool
    better: bool  # the challenger's value is better than the baseline's
    p_value: float = float("nan")  # twice the share of resampled differences beyond 0 on the far side


def resampled_test_values(
    dev: np.ndarray, test: np.ndarray, higher_better: bool, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """(resamples,) test values of the best-dev trial of each bootstrap resample of the trials."""
    n = len(dev)
    idx = rng.integers(0, n, size=(resamples, n))  # (R, n) trial indices
    scores = dev[idx] if higher_better else -dev[idx]
    best = idx[np.arange(resamples), np.argmax(scores, axis=1)]  # first best on ties
    return test[best]


def best_dev_test(dev: np.ndarray, test: np.ndarray, higher_better: bool) -> float:
    return float(test[np.argmax(dev) if higher_better else np.argmin(dev)])


def compare(
    baseline: tuple[np.ndarray, np.ndarray],
    challenger: tuple[np.ndarray, np.ndarray],
    higher_better: bool,
    resamples: int = 1000,
    seed: int = 0,
    baseline_trials: int = 2,
) -> Comparison:
    """Bootstrap comparison of two conditions given each one's (dev, test) metric per trial.

    A searched condition needs 2 finished trials; the bag-of-words floor is one deterministic fit
    (`baseline_trials=1`): every resample of it is that fit, so the interval reflects the variation
    of the challenger's selection alone.
    """
    for name, (dev, test), least in (("baseline", baseline, baseline_trials), ("challenger", challenger, 2)):
        if len(dev) < least or len(dev) != len(test):
            raise InputError(
                f"the {name} condition has {len(dev)} finished trials; the bootstrap needs at least {least}"
            )
    rng = np.random.default_rng(seed)
    b = resampled_test_values(*map(np.asarray, baseline), higher_better, resamples, rng)
    c = resampled_test_values(*map(np.asarray, challenger), higher_better, resamples, rng)
    low, high = np.percentile(c - b, [2.5, 97.5])
    b_value = best_dev_test(*map(np.asarray, baseline), higher_better)
    c_value = best_dev_test(*map(np.asarray, challenger), higher_better)
    p_value = min(1.0, 2 * min(np.mean(c - b <= 0), np.mean(c - b >= 0)))
    return Comparison(
        b_value,
        c_value,
        float(low),
        float(high),
        bool(low > 0 or high < 0),
        bool(c_value > b_value if higher_better else c_value < b_value),
        float(p_value),
    )


def hypothesis_tables(
    trials: pd.DataFrame,
    hypothesis: str,
    pairs: list[tuple[str, str]] | dict[str, list[tuple[str, str]]],
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Significance rows and per-class F1 rows (Table 4) of one hypothesis from its trial rows.

    `pairs` is one list for every partition, or a dict `dataset.task` -> list for partitions
    whose data supports fewer conditions.
    """
    rows, f1_rows = [], []
    usable = trials[trials["state"].isin(["complete", "pruned"]) & trials["dev_value"].notna()]
    for (dataset, task), part in usable.groupby(["dataset", "task"], sort=True):
        partition_pairs = pairs.get(f"{dataset}.{task}", []) if isinstance(pairs, dict) else pairs
        metric = part["metric"].iloc[0]
        identity = str(part["identity"].iloc[0]) if "identity" in part else None  # one per partition: its current
        higher = metric != "mae"
        arms = {
            c: (g["dev_value"].to_numpy(float), g["test_value"].to_numpy(float), g)
            for c, g in part.groupby("condition")
        }
        for baseline, challenger in partition_pairs:
            if baseline not in arms or challenger not in arms:
                raise InputError(
                    f"{hypothesis} {dataset}.{task}: no finished trials for "
                    f"{baseline if baseline not in arms else challenger!r}"
                )
            result = compare(
                arms[baseline][:2],
                arms[challenger][:2],
                higher,
                resamples,
                seed,
                baseline_trials=1 if baseline == FLOOR else 2,
            )
            rows.append(
                {
                    "hypothesis": hypothesis,
                    "dataset": dataset,
                    "task": task,
                    "baseline": baseline,
                    "challenger": challenger,
                    "method": PAPER,
                    "metric": metric,
                    "higher_better": higher,
                    "baseline_value": result.baseline_value,
                    "challenger_value": result.challenger_value,
                    "difference": result.challenger_value - result.baseline_value,
                    "ci_low": result.ci_low,
                    "ci_high": result.ci_high,
                    "significant": result.significant,
                    "better": result.better,
                    "p_value": result.p_value,
                    "resamples": resamples,
                    "baseline_trials": len(arms[baseline][0]),
                    "challenger_trials": len(arms[challenger][0]),
                    "identity": identity,
                }
            )
        if higher:  # Table 4 marks challengers against the hypothesis's baseline, not against the floor
            f1_rows += [
                {**row, "identity": identity}
                for row in _class_f1(
                    hypothesis, dataset, task, arms, [p for p in partition_pairs if p[0] != FLOOR], resamples, seed
                )
            ]
    return pd.DataFrame(rows), pd.DataFrame(f1_rows)


def _class_f1(hypothesis, dataset, task, arms, pairs, resamples, seed) -> list[dict]:
    """Per-class test F1 of each condition's best-dev trial; '*' by the same bootstrap on that class."""
    f1 = {
        c: pd.DataFrame([json.loads(m) for m in g["test_metrics"]]).filter(like="f1_") for c, (_, _, g) in arms.items()
    }
    labels = sorted({col[3:] for frame in f1.values() for col in frame.columns})
    significant = {}
    for baseline, challenger in pairs:
        for label in labels:
            col = f"f1_{label}"
            res = compare(
                (arms[baseline][0], f1[baseline][col].to_numpy(float)),
                (arms[challenger][0], f1[challenger][col].to_numpy(float)),
                True,
                resamples,
                seed,
            )
            significant[(challenger, label)] = res.significant
    rows = []
    for condition, (dev, _, _) in arms.items():
        best = int(np.argmax(dev))
        for label in labels:
            rows.append(
                {
                    "hypothesis": hypothesis,
                    "dataset": dataset,
                    "task": task,
                    "condition": condition,
                    "label": label,
                    "f1": float(f1[condition][f"f1_{label}"].iloc[best]),
                    "significant": significant.get((condition, label), False),
                }
            )
    return rows


def _classes_of(trials: pd.DataFrame) -> list[str] | None:
    """The partition's classes in the order its models index them (the per-class F1 keys of a trial's test
    metrics, which name every class), or None for a regression task."""
    if str(trials["metric"].iloc[0]) == "mae":
        return None
    for text in trials["test_metrics"].dropna():
        names = [k[3:] for k in json.loads(text) if k.startswith("f1_")]
        if names:
            return names
    raise InputError("no trial of the partition records its per-class F1: its classes are unknown")


def _arm(rows: pd.DataFrame, talkturns: pd.Index, encode, deterministic: bool = False, by: str = "replicate") -> Arm:
    """(rows, talkturns) predictions of one condition: its replicates in order (replicate 0 first), or with
    `by="trial"` its search's slots in order."""
    table = rows.pivot(index=by, columns="utterance_id", values="prediction").sort_index()
    return Arm(np.stack([encode(table.loc[r, talkturns]) for r in table.index]), deterministic)


ENSEMBLE_SUFFIX = " ensemble"  # `none ensemble`: a condition's seed ensemble as a challenger of the floor

# what each kind of row answers, in one sentence (the `estimand` column; every verdict table shows it)
ESTIMANDS = {
    SEARCH: "the mean difference the challenger condition makes over the configurations and seeds its search draws "
    "(slot k: the same configuration and seed in both conditions), on new test dialogues like these",
    "search vs floor": "the mean difference the condition makes over the configurations and seeds its search draws "
    "(every slot), on new test dialogues like these, against the bag-of-words floor (one fit)",
    "winners": "one search's selected configuration against the other's, over training seeds and new test dialogues "
    "(the two winners, not the conditions)",
    "floor": "the condition's selected configuration, over training seeds and new test dialogues, against the "
    "bag-of-words floor (one fit)",
    "ensemble vs floor": "the condition's seed ensemble (its selected configuration's seeds, outputs averaged), over "
    "training seeds and new test dialogues, against the bag-of-words floor",
    "ensembles": "the two conditions' seed ensembles (their selected configurations' seeds, outputs averaged), over "
    "training seeds and new test dialogues",
    PAPER: "appendix A.4: the best-dev trial's test value with the trials resampled (seeds and test set held fixed)",
}


def ensemble_pairs(ensembles: pd.DataFrame | None, key: str, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The comparisons of seed ensembles: (floor, `<condition> ensemble`) for each condition with one, where the
    floor is compared, and (`<baseline> ensemble`, `<challenger> ensemble`) for each pair of searched
    conditions that both have one."""
    if ensembles is None or ensembles.empty:
        return []
    own = set(ensembles.loc[ensembles["dataset"] + "." + ensembles["task"] == key, "condition"])
    out = []
    if any(b == FLOOR for b, _ in pairs):
        out += [(FLOOR, f"{c}{ENSEMBLE_SUFFIX}") for c in sorted(own)]
    out += [(f"{b}{ENSEMBLE_SUFFIX}", f"{c}{ENSEMBLE_SUFFIX}") for b, c in pairs if b in own and c in own]
    return out


def _estimand(method: str, baseline: str, challenger: str) -> str:
    """The sentence of ESTIMANDS a row of `method` comparing these two arms answers."""
    if method == SEARCH and baseline == FLOOR:
        return ESTIMANDS["search vs floor"]
    if method != PAIRED:
        return ESTIMANDS[method]
    if baseline == FLOOR:
        return ESTIMANDS["ensemble vs floor" if challenger.endswith(ENSEMBLE_SUFFIX) else "floor"]
    return ESTIMANDS["ensembles" if baseline.endswith(ENSEMBLE_SUFFIX) else "winners"]


def _row(hypothesis, dataset, task, baseline, challenger, method, metric, result, resamples, identity) -> dict:
    """One `significance` row of a paired or search comparison."""
    return {
        "hypothesis": hypothesis,
        "dataset": dataset,
        "task": task,
        "baseline": baseline,
        "challenger": challenger,
        "method": method,
        "metric": metric,
        "higher_better": metric != "mae",
        "baseline_value": result.baseline_value,
        "challenger_value": result.challenger_value,
        "difference": result.difference,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "significant": result.significant,
        "better": result.better,
        "p_value": result.p_value,
        "detectable_effect": result.detectable_effect,
        "seeds": result.seeds,
        "test_dialogues": result.test_dialogues,
        "test_talkturns": result.test_talkturns,
        "resamples": resamples,
        "identity": identity,
        "verdict": result.verdict,
        "margin": result.margin,
        "p_equivalence": result.p_equivalence,
        "p_seed_permutation": result.p_seed_permutation,
        "estimand": _estimand(method, baseline, challenger),
    }


def paired_table(
    predictions: pd.DataFrame,
    trials: pd.DataFrame,
    hypothesis: str,
    pairs: list[tuple[str, str]] | dict[str, list[tuple[str, str]]],
    resamples: int = PAIRED_RESAMPLES,
    seed: int = 0,
    ensembles: pd.DataFrame | None = None,
    slots: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The paired test of every comparison from stored per-talkturn test predictions of the current identities:
    `paired` rows from the selected configurations' seeds (`seed_predictions`: the selected trial as replicate 0
    and its seed replicates), with each seed ensemble (`ensemble_predictions`) against the floor and against
    the other condition's; and, given `slots` (`slot_predictions`), a `search` row for every comparison of two
    searched conditions (slot k of both, the same configuration and seed, compared slot by slot) and of a
    searched condition against the floor (its every slot against the floor's one fit)."""
    rows = []
    for (dataset, task), part in predictions.groupby(["dataset", "task"], sort=True):
        key = f"{dataset}.{task}"
        partition_pairs = pairs.get(key, []) if isinstance(pairs, dict) else pairs
        partition_trials = trials[(trials["dataset"] == dataset) & (trials["task"] == task)]
        metric = str(partition_trials["metric"].iloc[0])
        classes = _classes_of(partition_trials)
        identity = str(partition_trials["identity"].iloc[0]) if "identity" in partition_trials else None
        judge = _judge(part, metric, classes, resamples, seed)
        arms = {c: g for c, g in part.groupby("condition")}
        if ensembles is not None and len(ensembles):
            seed_ensembles = ensembles[(ensembles["dataset"] == dataset) & (ensembles["task"] == task)]
            arms.update({f"{c}{ENSEMBLE_SUFFIX}": g for c, g in seed_ensembles.groupby("condition")})
        for baseline, challenger in [*partition_pairs, *ensemble_pairs(ensembles, key, partition_pairs)]:
            missing = [c for c in (baseline, challenger) if c not in arms]
            if missing:
                raise InputError(f"{hypothesis} {key}: no stored test predictions for {missing[0]!r}")
            result = judge(_arms(arms, baseline, challenger))
            rows.append(
                _row(hypothesis, dataset, task, baseline, challenger, PAIRED, metric, result, resamples, identity)
            )
        if slots is None:
            continue
        searched = slots[(slots["dataset"] == dataset) & (slots["task"] == task)]
        by_condition = {c: g for c, g in searched.groupby("condition")}
        for baseline, challenger in partition_pairs:
            if baseline == FLOOR and challenger in by_condition and FLOOR in arms:
                # the condition's whole search against the one floor fit (no pairing: the floor has no slots)
                floor_rows = arms[FLOOR].assign(trial=0)
                result = judge(
                    _arms({FLOOR: floor_rows, challenger: by_condition[challenger]}, FLOOR, challenger, by="trial")
                )
            elif FLOOR in (baseline, challenger) or not {baseline, challenger} <= set(by_condition):
                continue
            else:
                result = compare_rows(
                    by_condition[baseline], by_condition[challenger], partition_trials, "trial", resamples, seed
                )
            rows.append(
                _row(hypothesis, dataset, task, baseline, challenger, SEARCH, metric, result, resamples, identity)
            )
    table = pd.DataFrame(rows)
    return table.astype({"detectable_effect": "Float64", "p_value": "Float64"}) if rows else table


def _judge(part: pd.DataFrame, metric: str, classes: list[str] | None, resamples: int, seed: int):
    """The paired test on a partition's test talkturns: `judge(arms)`, `arms(encode)` giving (baseline Arm,
    challenger Arm, the talkturns both predicted); `plant` may change the challenger's (S, N) predictions
    first (calibration.py)."""
    index = {name: i for i, name in enumerate(classes or [])}
    truth = part.drop_duplicates("utterance_id").set_index("utterance_id")

    def encode(values):
        return np.asarray(values.map(index) if classes else values.astype(float), dtype=float)

    def judge(arms, paired: bool = False, plant=None):
        baseline, challenger, talkturns = arms(encode)
        truth_codes = encode(truth.loc[talkturns, "truth"]).astype(np.int64 if classes else float)
        dialogues = truth.loc[talkturns, "dialogue"].fillna("").astype(str).to_numpy()
        if plant is not None:
            challenger = Arm(plant(challenger.predictions, truth_codes, dialogues))
        return compare_paired(
            baseline,
            challenger,
            truth_codes,
            dialogues,
            metric,
            len(classes) if classes else None,
            metric != "mae",
            resamples,
            seed,
            paired=paired,
        )

    return judge


def compare_rows(
    baseline: pd.DataFrame,
    challenger: pd.DataFrame,
    trials: pd.DataFrame,
    by: str = "replicate",
    resamples: int = PAIRED_RESAMPLES,
    seed: int = 0,
    plant=None,
) -> PairedComparison:
    """The paired test of two arms' stored prediction rows of one partition (utterance_id, dialogue, truth,
    prediction and `by`: `replicate` for seeds, `trial` for slots, which are then compared slot by slot on the
    slots both have); `trials` gives the metric and classes; `plant(predictions, truth, dialogues)` may change
    the challenger's predictions first."""
    metric = str(trials["metric"].iloc[0])
    classes = _classes_of(trials)
    rows = {"baseline": baseline, "challenger": challenger}
    if by == "trial":
        both = set(baseline["trial"]) & set(challenger["trial"])
        rows = {name: r[r["trial"].isin(both)] for name, r in rows.items()}
    judge = _judge(pd.concat(rows.values()), metric, classes, resamples, seed)
    return judge(_arms(rows, "baseline", "challenger", by=by), paired=by == "trial", plant=plant)


def _arms(arms: dict[str, pd.DataFrame], baseline: str, challenger: str, by: str = "replicate"):
    """A function of the encoder giving (baseline Arm, challenger Arm, the talkturns both predicted); an
    ensemble's members are its condition's seeds, whose spread is its seed noise."""

    def make(encode):
        talkturns = pd.Index(sorted(set(arms[baseline]["utterance_id"]) & set(arms[challenger]["utterance_id"])))
        built = []
        for name in (baseline, challenger):
            arm = _arm(arms[name], talkturns, encode, deterministic=name == FLOOR, by=by)
            members = name.removesuffix(ENSEMBLE_SUFFIX)
            if members != name:
                arm = Arm(arm.predictions, members=_arm(arms[members], talkturns, encode).predictions)
            built.append(arm)
        return built[0], built[1], talkturns

    return make
