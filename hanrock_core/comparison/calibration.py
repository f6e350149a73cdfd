"""Calibration of the significance methods: their false-positive rate and power, measured rather than assumed.

One configuration of a profile (the middle of its search space) is trained with many seeds in each of two
H1 conditions (`none` and a challenger, `aphf` by default).  The seed runs are then dealt into disjoint
groups of the size a study has (seeds per condition: the selected trial and its replicates):

    A/A         two groups of the same condition: no effect exists, so every significant result is a
                false positive; the share of them at the nominal 5% is the false-positive rate
    planted     two groups of the baseline, the second's test predictions improved by a known amount
                (`plant`: a share of each seed's wrong test predictions set right, or every error shrunk,
                so that the metric gains `planted` on average): the share found significant and better
                is the power at that effect, with the runs' real seed and test-sample noise
    challenger  a group of the challenger (aphf) against a group of the baseline: how often each method
                declares the real difference on this corpus (no effect is planted)

Each pair of groups is judged by both methods: the paired test (paired_test.py) on the groups' seeds,
and the paper's appendix A.4 (significance.compare) with the groups' runs as its trials.  Runs are kept
as seed-replicate files, so an interrupted calibration resumes with the missing seeds only.
`hanrock calibrate` runs it; docs/studies.md holds the measured table.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from hanrock_core.base.errors import InputError
from hanrock_core.base.home import TrialFiles
from hanrock_core.comparison.paired_test import ALPHA, Arm, compare_paired
from hanrock_core.comparison.significance import compare
from hanrock_core.learning.training import TrainConfig
from hanrock_core.preparation.loss_weight import assign_loss_weights
from hanrock_core.study.hypotheses import conditions
from hanrock_core.study.partition_data import PartitionData
from hanrock_core.study.profiles import Profile
from hanrock_core.study.replicates import ReplicateJob, train_missing

Log = Callable[[str], None]
BASE_SEED = 20_261_205  # the calibration's seeds are BASE_SEED + k, apart from every study's
PROGRESS_EVERY_S = 30.0  # how often a long judging says how far it is


@dataclass(frozen=True)
class SeedRuns:
    """One condition trained with many seeds: dev and test values per seed, (seeds, N) test predictions."""

    condition: str
    dev: np.ndarray
    test: np.ndarray
    predictions: np.ndarray


def partition_of(settings, dataset: str, task: str, log: Log = print, recipe=None, min_count: int = 1) -> PartitionData:
    """A dataset.task's training data as a study step builds it (its settings' narrative recipe and metric,
    the auxiliary families its data has), without Dagster; `recipe` and `min_count` replace the settings'
    narrative recipe and the vocabulary's minimum train count (an ablation's changes)."""
    from hanrock_core.preparation.auxiliary_target import AuxiliarySpec, available_families, build_auxiliary_targets
    from hanrock_core.preparation.datasets import dataset_metrics, load_dataset
    from hanrock_core.preparation.loss_weight import mutual_information
    from hanrock_core.preparation.narrative import narrative_table

    table, _ = load_dataset(settings, dataset, log=log)
    recipe = recipe or settings.dataset(dataset).narratives
    inputs = narrative_table(table, recipe).set_index("utterance_id")["model_input"]
    usable, _ = available_families(table)
    targets = build_auxiliary_targets(table, task, AuxiliarySpec(tuple(usable)))
    metric = dataset_metrics(settings, dataset)[task]
    return PartitionData.build(
        dataset,
        task,
        table,
        inputs,
        targets,
        mutual_information(targets),
        metric,
        narrative=recipe,
        min_count=min_count,
    )


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
        batch_size=int(round(min(middle("batch_size"), 1024 // (content + 1)))),
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


def train_seed_runs(
    part: PartitionData,
    profile: Profile,
    names: tuple[str, str],
    seeds: int,
    files: TrialFiles,
    log: Log,
    workers: int = 1,
) -> dict[str, SeedRuns]:
    """`seeds` runs of each named H1 condition (those already on disk are read, not trained again)."""
    from hanrock_core.study.worker_pool import run_replicates_in_workers

    by_name = {c.name: c for c in conditions("h1", profile, part.available_families())}
    jobs = []
    for name in names:
        condition = by_name[name]
        config = typical_config(profile, condition)
        weights = condition_weights(profile, part, condition)
        for k in range(1, seeds + 1):
            jobs.append(
                ReplicateJob(
                    name,
                    0,
                    k,
                    {**config.__dict__, "seed": BASE_SEED},
                    weights,
                    files.replicate_row(name, 0, k),
                    files.replicate_predictions(name, 0, k),
                    files.replicate_outputs(name, 0, k),
                )
            )
    missing = [j for j in jobs if not j.done]
    log(f"{part.key}: {len(jobs) - len(missing)} of {len(jobs)} calibration runs on disk; training {len(missing)}")
    if workers > 1 and len(missing) > 1:  # one thread each: more threads than cores make OpenMP spin
        run_replicates_in_workers(missing, workers, part, max(1, (os.cpu_count() or 1) // workers), log)
    else:
        train_missing(part.data, missing, log)
    return {name: _read_runs(name, [j for j in jobs if j.condition == name]) for name in names}


def _read_runs(name: str, jobs: list[ReplicateJob]) -> SeedRuns:
    rows = [json.loads(j.file.read_text(encoding="utf-8")) for j in jobs]
    frames = [pd.read_parquet(j.predictions).set_index("utterance_id") for j in jobs]
    talkturns = frames[0].index
    return SeedRuns(
        name,
        np.array([r["dev_value"] for r in rows], dtype=float),
        np.array([r["test_value"] for r in rows], dtype=float),
        np.stack([f.loc[talkturns, "prediction"].to_numpy() for f in frames]),
    )


def plant(
    predictions: np.ndarray, truth: np.ndarray, delta: float, metric: str, classes: int | None, seed: int
) -> np.ndarray:
    """(S, N) predictions improved so that the metric gains `delta` on average over the seeds: for classes, each
    seed's wrong predictions are set right where a uniform draw is below q (q found by bisection); for
    numbers, every error shrinks by the same share."""
    if classes is None:
        errors = np.abs(predictions - truth[None, :]).mean()
        share = min(1.0, delta / errors) if errors > 0 else 0.0
        return truth[None, :] + (predictions - truth[None, :]) * (1 - share)
    from hanrock_core.comparison.paired_test import dialogue_statistics, metric_from_counts

    draws = np.random.default_rng(seed).random(predictions.shape)
    one = np.zeros(len(truth), dtype=np.int64)

    def score(p: np.ndarray) -> float:
        counts = dialogue_statistics(p, truth, one, 1, classes).sum(1)
        return float(metric_from_counts(counts, metric).mean())

    base, low, high = score(predictions), 0.0, 1.0
    for _ in range(30):
        q = (low + high) / 2
        improved = np.where(draws < q, truth[None, :], predictions)
        low, high = (q, high) if score(improved) - base < delta else (low, q)
    return np.where(draws < high, truth[None, :], predictions)


def distinct_pairs(seeds_a: int, seeds_b: int, group: int, same: bool) -> int:
    """How many different pairs of disjoint groups of `group` seeds the runs allow (unordered when `same`)."""
    if same:
        return math.comb(seeds_a, group) * math.comb(seeds_a - group, group) // 2
    return math.comb(seeds_a, group) * math.comb(seeds_b, group)


def group_pairs(seeds_a: int, seeds_b: int, group: int, count: int, rng: np.random.Generator, same: bool):
    """`count` different pairs of disjoint seed groups of size `group` (from one condition when `same`: A/A);
    `count` must not exceed `distinct_pairs`."""
    pairs, seen = [], set()

    def add(a: np.ndarray, b: np.ndarray) -> None:
        key = (frozenset(a.tolist()), frozenset(b.tolist()))
        key = frozenset(key) if same else key
        if key not in seen and len(pairs) < count:
            seen.add(key)
            pairs.append((a, b))

    while len(pairs) < count:
        if same:
            order = rng.permutation(seeds_a)
            groups = [order[i : i + group] for i in range(0, seeds_a - group + 1, group)]
            for i in range(0, len(groups) - 1, 2):
                add(groups[i], groups[i + 1])
        else:
            a, b = rng.permutation(seeds_a), rng.permutation(seeds_b)
            for i in range(min(seeds_a, seeds_b) // group):
                add(a[i * group : (i + 1) * group], b[i * group : (i + 1) * group])
    return pairs


def judge(
    baseline: SeedRuns,
    challenger: SeedRuns,
    pairs,
    truth: np.ndarray,
    dialogues: np.ndarray,
    metric: str,
    classes: list[str] | None,
    resamples: int,
    planted: float = 0.0,
    log: Log | None = None,
) -> pd.DataFrame:
    """Both methods' verdict on every pair of groups (baseline group, challenger group); with `planted`, the
    challenger group's test predictions first gain that much (`plant`) and its test values follow.  `log`
    hears how far it is, with an estimate of the time left, every PROGRESS_EVERY_S seconds."""
    higher = metric != "mae"
    index = {c: i for i, c in enumerate(classes or [])}
    k_classes = len(classes) if classes else None

    def encode(values: np.ndarray) -> np.ndarray:
        return np.vectorize(index.get)(values).astype(float) if classes else values.astype(float)

    truth_codes = encode(truth).astype(np.int64 if classes else float)
    base_predictions, challenger_predictions = encode(baseline.predictions), encode(challenger.predictions)
    rows = []
    started = last = time.perf_counter()
    for k, (a, b) in enumerate(pairs):
        now = time.perf_counter()
        if log is not None and k and now - last >= PROGRESS_EVERY_S:
            last = now
            left = (now - started) / k * (len(pairs) - k)
            log(f"  {k} of {len(pairs)} comparisons judged; about {left / 60:.1f} min left")
        ours, test_b = challenger_predictions[b], challenger.test[b]
        if planted:
            ours = plant(ours.astype(np.int64) if classes else ours, truth_codes, planted, metric, k_classes, k)
            before = metric_values(challenger_predictions[b], truth_codes, metric, k_classes)
            test_b = test_b + (metric_values(ours, truth_codes, metric, k_classes) - before)
        paired = compare_paired(
            Arm(base_predictions[a]), Arm(ours), truth_codes, dialogues, metric, k_classes, higher, resamples, seed=k
        )
        paper = compare((baseline.dev[a], baseline.test[a]), (challenger.dev[b], test_b), higher, resamples, seed=k)
        rows.append(
            {
                "pair": k,
                "paired_significant": paired.significant,
                "paired_better": paired.significant and paired.better,
                "paired_detectable_effect": paired.detectable_effect,
                "paired_difference": paired.difference,
                "paper_significant": paper.significant,
                "paper_better": paper.significant and paper.better,
            }
        )
    return pd.DataFrame(rows)


def metric_values(predictions: np.ndarray, truth: np.ndarray, metric: str, classes: int | None) -> np.ndarray:
    """(S,) the metric of each seed's predictions on the whole test set."""
    from hanrock_core.comparison.paired_test import dialogue_statistics, metric_from_counts

    one = np.zeros(len(truth), dtype=np.int64)
    return metric_from_counts(dialogue_statistics(predictions, truth, one, 1, classes).sum(1), metric)


def wilson(hits: int, n: int) -> tuple[float, float]:
    """The 95% Wilson interval of a proportion (how sure a measured rate is)."""
    if n == 0:
        return float("nan"), float("nan")
    z = stats.norm.ppf(0.975)
    centre = (hits + z * z / 2) / (n + z * z)
    half = z * math.sqrt(hits * (n - hits) / n + z * z / 4) / (n + z * z)
    return centre - half, centre + half


def summarise(
    verdicts: dict[str, pd.DataFrame], group: int, minutes: float, corpus: str, planted: float
) -> pd.DataFrame:
    """Method x measure: false-positive rate (every A/A comparison), power at the planted effect, and how often
    the real challenger was declared better, each with its 95% interval; seeds per condition; minutes."""
    rows = []
    aa = pd.concat([v for kind, v in verdicts.items() if kind.startswith("A/A")], ignore_index=True)
    for method in ("paired", "paper"):
        hits = int(aa[f"{method}_significant"].sum())
        row = {
            "corpus": corpus,
            "method": method,
            "seeds": group,
            "aa_comparisons": len(aa),
            "false_positive_rate": hits / len(aa),
            **dict(zip(("fpr_low", "fpr_high"), wilson(hits, len(aa)))),
        }
        for kind, name in (("planted", "power"), ("challenger", "challenger_better")):
            found_in = verdicts.get(kind)
            if found_in is not None and len(found_in):
                found = int(found_in[f"{method}_better"].sum())
                row[name] = found / len(found_in)
                row.update(dict(zip((f"{name}_low", f"{name}_high"), wilson(found, len(found_in)))))
        row["planted_effect"] = planted
        if method == "paired":
            row["median_detectable_effect"] = float(aa["paired_detectable_effect"].median())
        row["minutes"] = round(minutes, 1)
        rows.append(row)
    return pd.DataFrame(rows)


def seeds_per_group(profile: Profile, group: int | None = None) -> int:
    """Seeds per condition in each comparison: `group`, else as many as a study of the profile has."""
    return group or max(2, profile.replicates + 1)


def check_arguments(profile: Profile, seeds: int, group: int | None, challenger: str | None, planted: float) -> None:
    """Refuse what cannot make a calibration before any data is read (each message names its option)."""
    size = seeds_per_group(profile, group)
    if seeds < 2 * size:
        chosen = f"--group {group}" if group else f"profile {profile.name!r} ({profile.replicates} replicates + 1)"
        raise InputError(
            f"--seeds {seeds} cannot make two disjoint groups of {size} seeds ({chosen})",
            hint=f"give --seeds {2 * size} or more" + ("" if group else ", or a smaller --group"),
        )
    known = [c.name for c in conditions("h1", profile) if not c.baseline]
    if challenger is not None and challenger not in known:
        raise InputError(
            f"--challenger {challenger!r} is not an H1 condition", hint=f"choose one of {known}, or none to skip it"
        )
    if not math.isfinite(planted) or planted <= 0:
        raise InputError(
            f"--planted {planted} is not an effect: give a positive gain of the metric (e.g. 0.03)",
            hint="a classification metric's gain is below 1; an MAE's is a reduction below the baseline's MAE",
        )


def check_for_data(part: PartitionData, profile: Profile, challenger: str | None, planted: float) -> None:
    """Refuse a challenger the data has no families for and an effect beyond the metric's range."""
    available = [c.name for c in conditions("h1", profile, part.available_families()) if not c.baseline]
    if challenger is not None and challenger not in available:
        raise InputError(
            f"--challenger {challenger!r} needs auxiliary families {part.key} does not have "
            f"(its data has {list(part.available_families()) or 'none'})",
            hint=f"choose one of {available}, or none to skip it" if available else "give --challenger none",
        )
    metric, _ = part.data.selection
    if metric != "mae" and planted >= 1:
        raise InputError(
            f"--planted {planted} is beyond {metric}, which lies between 0 and 1",
            hint="give a gain below 1 (e.g. 0.03)",
        )


def report_folder(base: Path, profile: Profile, seeds: int, group: int, challenger: str | None, planted: float) -> Path:
    """A calibration's own folder under `base`, named by its arguments: another calibration never overwrites it."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", profile.name)[:60]
    return base / f"{name}-seeds{seeds}-group{group}-{challenger or 'none'}-planted{planted:g}"


def calibrate(
    part: PartitionData,
    profile: Profile,
    files: TrialFiles,
    seeds: int = 20,
    group: int | None = None,
    comparisons: int = 100,
    planted: float = 0.03,
    challenger: str | None = "aphf",
    resamples: int = 1000,
    workers: int = 1,
    log: Log = print,
    corpus: str | None = None,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Train `seeds` runs of `none` (and of `challenger`, unless None), then judge `comparisons` pairs of each
    kind by both methods: A/A, `planted` (power at that effect), challenger against none; `group` seeds per
    condition (default: the profile's replicates + 1).  Returns the summary and every verdict."""
    started = time.perf_counter()
    check_arguments(profile, seeds, group, challenger, planted)
    check_for_data(part, profile, challenger, planted)
    group = seeds_per_group(profile, group)
    names = ("none", challenger) if challenger else ("none",)
    runs = train_seed_runs(part, profile, names, seeds, files, log, workers)
    test = part.data.labelled("test")
    talkturns = pd.Index(part.data.utterance_ids[test])
    first = pd.read_parquet(files.replicate_predictions("none", 0, 1)).set_index("utterance_id")
    truth = first.loc[talkturns, "truth"].to_numpy()
    dialogues = part.data.dialogue_names()[test]
    metric, _ = part.data.selection
    rng = np.random.default_rng(BASE_SEED)
    kinds = {
        "A/A none": (runs["none"], runs["none"], True, 0.0),
        "planted": (runs["none"], runs["none"], True, planted),
    }
    if challenger:
        kinds[f"A/A {challenger}"] = (runs[challenger], runs[challenger], True, 0.0)
        kinds["challenger"] = (runs["none"], runs[challenger], False, 0.0)
    verdicts = {}
    room = runs["none"].test.mean() if metric == "mae" else 1 - runs["none"].test.mean()
    if planted >= room:
        raise InputError(
            f"--planted {planted} is more than none's test {metric} can move ({room:.3f} over its {seeds} seeds)",
            hint=f"give an effect below {room:.3f}",
        )
    for name, (a, b, same, effect) in kinds.items():
        allowed = distinct_pairs(seeds, seeds, group, same)
        if comparisons > allowed:
            log(f"{name}: {seeds} seeds allow {allowed} different pairs of groups of {group}; judging {allowed}")
        pairs = group_pairs(seeds, seeds, group, min(comparisons, allowed), rng, same)
        verdicts[name] = judge(a, b, pairs, truth, dialogues, metric, part.data.classes, resamples, effect, log)
        found = {m: int(verdicts[name][f"{m}_significant"].sum()) for m in ("paired", "paper")}
        log(f"{name}: {len(pairs)} comparisons; significant: paired test {found['paired']}, paper's {found['paper']}")
    summary = summarise(verdicts, group, (time.perf_counter() - started) / 60, corpus or part.key, planted)
    for name, r in runs.items():
        log(f"{name}: test {metric} over {seeds} seeds {r.test.mean():.4f} (sd {r.test.std(ddof=1):.4f})")
    return summary, verdicts


__all__ = [
    "ALPHA",
    "SeedRuns",
    "calibrate",
    "group_pairs",
    "judge",
    "summarise",
    "partition_of",
    "typical_config",
    "wilson",
]
