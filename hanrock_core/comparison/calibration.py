"""Calibration of the platform's verdicts on its own runs: whole studies, search and selection included.

`hanrock calibrate DATASET.TASK --studies N` runs the complete H1 study of the partition N times, each in
a data folder of its own (`$HANROCK_HOME/calibration/<dataset.task>/<identity>/study-<i>`) with a search
seed of its own (the profile's seed + i): other configurations and other training seeds, the same data
and test set.  Disjoint pairs of studies (0 and 1, 2 and 3, ...) then give, each comparison used once:

    A/A         each H1 condition of one study against the same condition of the other, where no effect
                exists, judged by the two verdicts the platform prints: the search test (slot k against slot
                k, every slot of both searches; what two searched conditions are judged by) and the
                selected configurations' seeds (one search's winner against the other's).  The share called
                better or worse is that verdict's false-positive rate; the share called equivalent, how
                often it settles a null
    planted     `none` of the second study with an effect planted in its slots' test predictions (`plant`:
                wrong predictions set right and right ones set wrong, more in some dialogues and some rows
                than others, so that the expected gain is +delta and the realised one varies) against `none`
                of the first, by the search test: the share called better is its power at delta
    challenger  each study's own verdict of each challenger against `none`: the real comparison, N times

Every share has its 95% Wilson interval.  `paired_simulation.py` (`tests/bench_paired_comparison.py`) measures
the same test on thousands of simulated comparisons with a known truth; this measures it on the
platform's runs, which are few.  Studies already on disk are read, not trained again.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from hanrock_core.base.errors import InputError
from hanrock_core.base.home import Home
from hanrock_core.base.results import mutual_information_rows, query
from hanrock_core.base.staged_results import write_rows
from hanrock_core.comparison.paired_comparison import ALPHA, dialogue_statistics, metric_from_counts
from hanrock_core.comparison.significance import SEARCH, compare_rows
from hanrock_core.comparison.study_progress import write_significance_tables
from hanrock_core.learning.train_config import TrainConfig
from hanrock_core.preparation.mi_loss_weights import assign_loss_weights
from hanrock_core.study.hypotheses import conditions
from hanrock_core.study.partition_data import PartitionData
from hanrock_core.study.profiles import Profile

Log = Callable[[str], None]
SEED_STEP = 1_000  # study i searches with the profile's seed + i * SEED_STEP
PLANTED = (0.01, 0.02, 0.03)
BREAKAGE = 0.2  # planted effects break this many right predictions for every five they fix
PLANT_SPREAD = 0.5  # how much a planted effect varies between dialogues and between rows (relative sd)
KINDS = ("A/A search", "A/A seeds", "planted", "challenger")


def typical_config(profile: Profile, condition) -> TrainConfig:
    """The middle of the profile's search space (log-middle for the learning rate), the condition's capacity."""

    def middle(name: str) -> float:
        low, high = profile.search_range(name)
        return math.sqrt(low * high) if name == "learning_rate" and low > 0 else (low + high) / 2

    content = int(round(middle("content_size")))
    return TrainConfig(
        architecture=condition.architecture,
        primary_units=condition.primary_units,
        aux_units=condition.aux_units,
        capacity_total=profile.capacity_total if condition.aux_units > 0 else None,
        learning_rate=middle("learning_rate"),
        batch_size=int(round(min(middle("batch_size"), 1024 // (content + 1 + profile.content_after)))),
        content_size=content,
        l2=0.0,
        dropout=middle("dropout"),
        recurrent_dropout=middle("recurrent_dropout"),
        **profile.fixed_training(),
    )


def condition_weights(profile: Profile, part: PartitionData, condition) -> dict:
    """The condition's loss weights: the middle primary weight, the rest by MI over its switched-on tasks."""
    primary = sum(profile.search_range("primary_weight")) / 2
    active = [t for t, f in part.family.items() if f in condition.families] if condition.aux_units > 0 else []
    weights = assign_loss_weights(primary, "mi_linear", part.mi, active, np.random.default_rng(0))
    return dict(zip(["primary", *part.mi.index], map(float, weights.to_numpy())))


def check_arguments(profile: Profile, studies: int, challenger: str | None, planted: tuple[float, ...]) -> None:
    """Refuse what cannot make a calibration before any data is read (each message names its option)."""
    if studies < 2:
        raise InputError(f"--studies {studies} cannot make a pair of studies", hint="give --studies 2 or more")
    known = [c.name for c in conditions("h1", profile) if not c.baseline]
    if challenger is not None and challenger not in known:
        raise InputError(
            f"--challenger {challenger!r} is not an H1 condition", hint=f"choose one of {known}, or none to skip it"
        )
    for effect in planted:
        if not math.isfinite(effect) or effect <= 0:
            raise InputError(
                f"--planted {effect} is not an effect: give positive gains of the metric (e.g. 0.01,0.02,0.03)",
                hint="a classification metric's gain is below 1; an MAE's is a reduction below the baseline's MAE",
            )


def check_for_data(part: PartitionData, profile: Profile, challenger: str | None, planted: tuple[float, ...]) -> None:
    """Refuse a challenger the data has no families for and an effect beyond the metric's range."""
    available = [c.name for c in conditions("h1", profile, part.available_families()) if not c.baseline]
    if challenger is not None and challenger not in available:
        raise InputError(
            f"--challenger {challenger!r} needs auxiliary families {part.key} does not have "
            f"(its data has {list(part.available_families()) or 'none'})",
            hint=f"choose one of {available}, or none to skip it" if available else "give --challenger none",
        )
    metric, _ = part.data.selection
    beyond = [e for e in planted if metric != "mae" and e >= 1]
    if beyond:
        raise InputError(
            f"--planted {beyond[0]} is beyond {metric}, which lies between 0 and 1",
            hint="give gains below 1 (e.g. 0.01,0.02,0.03)",
        )


def report_folder(
    base: Path, profile: Profile, studies: int, challenger: str | None, planted: tuple[float, ...]
) -> Path:
    """A calibration's own folder under `base`, named by its arguments: another calibration never overwrites it."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", profile.name)[:60]
    effects = "_".join(f"{e:g}" for e in planted)
    return base / f"{name}-studies{studies}-{challenger or 'none'}-planted{effects}"


def study_profile(profile: Profile, i: int) -> Profile:
    """Study i's profile: the same in all but its search seed (other configurations and training seeds)."""
    return replace(profile, seed=profile.seed + i * SEED_STEP)


def _mi_rows(part: PartitionData) -> pd.DataFrame:
    """The partition's `mutual_information` rows, as the auxiliary-targets asset writes them: they say which
    families (so which H1 conditions) the study has."""
    frame = pd.DataFrame(
        {"task": part.mi.index, "mi": part.mi.to_numpy(), "family": [part.family[t] for t in part.mi.index]}
    )
    return mutual_information_rows(part.dataset, part.task, frame)


def run_studies(part: PartitionData, profile: Profile, folders: list[Path], log: Log) -> list[Home]:
    """The complete H1 study of the partition in each folder, study i with its own search seed (a study on disk
    is resumed: its finished trials are kept), and each study's own significance tables."""
    from hanrock_core.study.search import run_hypothesis

    homes = []
    for i, folder in enumerate(folders):
        home, own = Home(folder), study_profile(profile, i)
        log(f"calibration study {i + 1} of {len(folders)} (search seed {own.seed}) in {home.root}")
        run_hypothesis(part, own, "h1", home, log=log)
        write_rows(home, "mutual_information", {"dataset": part.dataset, "task": part.task}, _mi_rows(part), log)
        write_significance_tables(home.results_db, "h1", own, log)  # its conditions: those the MI rows' families allow
        homes.append(home)
    return homes


def plant(
    predictions: np.ndarray,
    truth: np.ndarray,
    dialogues: np.ndarray,
    delta: float,
    metric: str,
    classes: int | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """(S, N) predictions with an effect planted whose expected gain of the metric is `delta`: in each row and
    dialogue, wrong predictions are set right with a chance f and right ones set wrong (another class) with a
    chance f * BREAKAGE, f varying between dialogues and rows by PLANT_SPREAD around f0, and f0 chosen so that
    the expected metric of the changed counts is delta above the original; regression errors shrink by a
    share that varies the same way.  The realised gain varies around delta, as a real effect's would."""
    codes, dialogue_index = np.unique(dialogues, return_inverse=True)
    rows, n = predictions.shape
    spread = np.clip(
        1
        + PLANT_SPREAD * rng.standard_normal((rows, 1))
        + PLANT_SPREAD * rng.standard_normal(len(codes))[dialogue_index],
        0,
        None,
    )  # (S, N): how strongly the effect acts on each row and talkturn
    if classes is None:
        errors = np.abs(predictions - truth[None, :]).mean()
        share = np.clip(min(1.0, delta / errors) * spread, 0, 1) if errors > 0 else np.zeros_like(spread)
        return truth[None, :] + (predictions - truth[None, :]) * (1 - share)
    right = predictions == truth[None, :]
    one = np.zeros(n, dtype=np.int64)

    def expected_gain(f0: float) -> float:
        fix = np.clip(f0 * spread, 0, 1) * ~right
        brk = np.clip(f0 * BREAKAGE * spread, 0, 1) * right
        base = dialogue_statistics(predictions, truth, one, 1, classes)[:, 0]  # (S, K, K)
        moved = base.copy()
        for s in range(rows):  # expected counts: fixed talkturns move to the diagonal, broken ones off it
            np.add.at(moved[s], (truth, predictions[s]), -fix[s] - brk[s])
            np.add.at(moved[s], (truth, truth), fix[s])
            np.add.at(moved[s], (truth, (truth + 1) % classes), brk[s])
        return float((metric_from_counts(moved, metric) - metric_from_counts(base, metric)).mean())

    grid = np.linspace(0.0, 5.0, 51)  # f0 past 1 still fixes where the spread is below 1, and breaks more
    gains = np.array([expected_gain(f) for f in grid])
    if gains.max() < delta:
        raise InputError(
            f"an effect of {delta} cannot be planted: these predictions gain at most {gains.max():.3f}",
            hint="plant a smaller effect (--planted)",
        )
    first = int(np.argmax(gains >= delta))
    low, high = grid[first - 1], grid[first]
    for _ in range(30):
        middle = (low + high) / 2
        low, high = (middle, high) if expected_gain(middle) < delta else (low, middle)
    f0 = (low + high) / 2
    draws = rng.random(predictions.shape)
    fixed = ~right & (draws < np.clip(f0 * spread, 0, 1))
    broken = right & (draws < np.clip(f0 * BREAKAGE * spread, 0, 1))
    other = (truth[None, :] + rng.integers(1, classes, predictions.shape)) % classes
    return np.where(fixed, truth[None, :], np.where(broken, other, predictions))


def _partition_rows(home: Home, view: str, part: PartitionData) -> pd.DataFrame:
    return query(
        home.results_db,
        f"SELECT * FROM {view} WHERE hypothesis = 'h1' AND dataset = ? AND task = ?",
        [part.dataset, part.task],
    )


def judge_pairs(
    homes: list[Home],
    part: PartitionData,
    names: list[str],
    planted: tuple[float, ...],
    resamples: int,
    seed: int,
    log: Log,
) -> pd.DataFrame:
    """One row per comparison of disjoint pairs of studies: A/A of each condition by both verdicts, planted
    effects by the search test."""
    trials = _partition_rows(homes[0], "trials", part)
    rows = []
    rng = np.random.default_rng(seed)
    metric, _ = part.data.selection
    classes = len(part.data.classes) if part.data.classes is not None else None
    for pair, (a, b) in enumerate(zip(homes[0::2], homes[1::2])):
        slots = {h: _partition_rows(h, "slot_predictions", part) for h in (a, b)}
        seeds = {h: _partition_rows(h, "seed_predictions", part) for h in (a, b)}
        for name in names:
            first, second = (slots[h][slots[h]["condition"] == name] for h in (a, b))
            result = compare_rows(first, second, trials, "trial", resamples, seed + pair)
            rows.append(_judged("A/A search", pair, name, 0.0, result))
            first, second = (seeds[h][seeds[h]["condition"] == name] for h in (a, b))
            result = compare_rows(first, second, trials, "replicate", resamples, seed + pair)
            rows.append(_judged("A/A seeds", pair, name, 0.0, result))
        first, second = (slots[h][slots[h]["condition"] == "none"] for h in (a, b))
        for delta in planted:

            def planting(predictions, truth, dialogues, delta=delta):
                return plant(predictions.astype(np.int64) if classes else predictions, truth, dialogues, delta,
                             metric, classes, rng)  # fmt: skip

            result = compare_rows(first, second, trials, "trial", resamples, seed + pair, plant=planting)
            rows.append(_judged("planted", pair, "none", delta, result))
        log(f"calibration pair {pair + 1}: studies {homes.index(a)} and {homes.index(b)} judged")
    return pd.DataFrame(rows)


def _judged(kind: str, pair: int, condition: str, effect: float, result) -> dict:
    return {
        "kind": kind,
        "pair": pair,
        "condition": condition,
        "effect": effect,
        "verdict": result.verdict,
        "difference": result.difference,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "p_value": result.p_value,
        "p_equivalence": result.p_equivalence,
        "rows": result.seeds,
        "detectable_effect": result.detectable_effect,
    }


def challenger_verdicts(homes: list[Home], part: PartitionData, names: list[str]) -> pd.DataFrame:
    """Each study's own search verdict of each challenger against `none`."""
    frames = []
    for i, home in enumerate(homes):
        sig = _partition_rows(home, "significance", part)
        own = sig[(sig["method"] == SEARCH) & (sig["baseline"] == "none") & sig["challenger"].isin(names)]
        frames.append(
            own.assign(kind="challenger", pair=i, condition=own["challenger"], effect=np.nan, rows=own["seeds"])[
                [
                    "kind",
                    "pair",
                    "condition",
                    "effect",
                    "verdict",
                    "difference",
                    "ci_low",
                    "ci_high",
                    "p_value",
                    "p_equivalence",
                    "rows",
                    "detectable_effect",
                ]  # fmt: skip
            ]
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def wilson(hits: int, n: int) -> tuple[float, float]:
    """The 95% Wilson interval of a proportion (how sure a measured rate is)."""
    if n == 0:
        return float("nan"), float("nan")
    z = stats.norm.ppf(0.975)
    centre = (hits + z * z / 2) / (n + z * z)
    half = z * math.sqrt(hits * (n - hits) / n + z * z / 4) / (n + z * z)
    return centre - half, centre + half


def summarise(verdicts: pd.DataFrame, corpus: str, studies: int, minutes: float) -> pd.DataFrame:
    """One row per measure: the A/A false-positive rate of each verdict, the power at each planted effect, how
    often the real challenger was called better / worse / equivalent; each with its 95% Wilson interval."""
    rows = []

    def add(measure: str, test: str, chosen: pd.DataFrame, hit: pd.Series) -> None:
        hits, n = int(hit.sum()), len(chosen)
        low, high = wilson(hits, n)
        shares = chosen["verdict"].value_counts()
        rows.append(
            {
                "corpus": corpus,
                "studies": studies,
                "measure": measure,
                "test": test,
                "comparisons": n,
                "rate": hits / n if n else float("nan"),
                "rate_low": low,
                "rate_high": high,
                **{f"{v}": int(shares.get(v, 0)) for v in ("better", "worse", "equivalent", "undecided")},
                "median_rows": float(chosen["rows"].median()) if n else float("nan"),
                "minutes": round(minutes, 1),
            }
        )

    for kind, test in (("A/A search", "search (slot by slot)"), ("A/A seeds", "selected configurations' seeds")):
        chosen = verdicts[verdicts["kind"] == kind]
        add(f"false-positive rate at nominal {ALPHA}", test, chosen, chosen["verdict"].isin(["better", "worse"]))
    for effect, chosen in verdicts[verdicts["kind"] == "planted"].groupby("effect"):
        add(f"power at +{effect:g}", "search (slot by slot)", chosen, chosen["verdict"] == "better")
    for name, chosen in verdicts[verdicts["kind"] == "challenger"].groupby("condition"):
        add(f"{name} called better than none", "search (slot by slot)", chosen, chosen["verdict"] == "better")
    return pd.DataFrame(rows)


def calibrate(
    part: PartitionData,
    profile: Profile,
    folders: list[Path],
    planted: tuple[float, ...] = PLANTED,
    challenger: str | None = None,
    resamples: int = 1000,
    log: Log = print,
    corpus: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run (or read) a complete H1 study of the partition in each folder and judge disjoint pairs of them: A/A of
    every H1 condition by both verdicts, `planted` effects by the search test, and each study's own
    challenger verdicts (`challenger`: only that one; None: every H1 challenger).  Returns the summary and
    every verdict."""
    import time

    started = time.perf_counter()
    studies = len(folders)
    check_arguments(profile, studies, challenger, planted)
    check_for_data(part, profile, challenger, planted)
    homes = run_studies(part, profile, folders, log)
    available = [c.name for c in conditions("h1", profile, part.available_families())]
    names = available if challenger is None else ["none", challenger]
    verdicts = judge_pairs(homes, part, names, planted, resamples, profile.seed, log)
    verdicts = pd.concat(
        [verdicts, challenger_verdicts(homes, part, [n for n in names if n != "none"])], ignore_index=True
    )
    summary = summarise(verdicts, corpus or part.key, studies, (time.perf_counter() - started) / 60)
    return summary, verdicts


__all__ = [
    "KINDS",
    "PLANTED",
    "calibrate",
    "check_arguments",
    "check_for_data",
    "condition_weights",
    "judge_pairs",
    "plant",
    "report_folder",
    "run_studies",
    "summarise",
    "typical_config",
    "wilson",
]
