"""Seed replicates: each condition's selected configuration trained again with further seeds.

A search selects one trial per condition; how much of its result is the seed is unknown from one
run.  With `replicates: N` in the profile, after a partition's search every condition's selected
configuration (hyper-parameters and loss weights) is trained N more times, seed k derived from the
trial's seed, and `results_long` and the paper views show the mean and standard deviation over the
selected trial and its replicates.  Each replicate is written to a file when it finishes, so a
killed run resumes with the missing ones only.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import optuna
import pandas as pd

from hanrock_core.base.home import TrialFiles
from hanrock_core.base.io import atomic_path, write_parquet_atomic
from hanrock_core.learning.checkpoint import save_checkpoint
from hanrock_core.learning.task_data import TaskData
from hanrock_core.learning.train_config import TrainConfig
from hanrock_core.learning.training import train
from hanrock_core.study.median_stopping import slot_of
from hanrock_core.study.selection import selected_trials

Log = Callable[[str], None]
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
# the `replicate` column of prediction and result rows names one of three things (sql/schema.sql):
SELECTED_TRIAL = 0  # the selected trial itself, trained by the search (its own seed)
# 1, 2, ...: its seed replicates (the same configuration, seed replicate_seed(trial seed, k))
ENSEMBLE = -1  # the seed ensemble: the selected trial's and its replicates' outputs averaged (seed_ensemble.py)


def replicate_seed(trial_seed: int, replicate: int) -> int:
    """The training seed of replicate k (1, 2, ...) of a trial: a function of the trial's seed and k only."""
    return zlib.crc32(f"{trial_seed}/replicate/{replicate}".encode())


@dataclass(frozen=True)
class ReplicateJob:
    """One replicate to train: the selected trial's configuration and loss weights with seed k, and its files."""

    condition: str
    slot: int
    replicate: int
    config: dict
    loss_weights: dict
    file: Path  # its result row, written last
    predictions: Path  # its test predictions
    outputs: Path  # its dev and test primary outputs (what the seed ensemble averages)
    state: Path | None = None  # its chosen epoch's state (a member of the kept seed ensemble); None: not kept

    @classmethod
    def of(
        cls,
        files: TrialFiles,
        condition: str,
        slot: int,
        replicate: int,
        config: dict,
        loss_weights: dict,
        keep_state: bool = True,
    ) -> ReplicateJob:
        """Replicate k of a configuration, its files where `files` puts them (the one way a job is made:
        the study's replicates and an ablation's seeds alike)."""
        state = files.replicate_state(condition, slot, replicate) if keep_state else None
        return cls(
            condition,
            slot,
            replicate,
            dict(config),
            dict(loss_weights),
            files.replicate_row(condition, slot, replicate),
            files.replicate_predictions(condition, slot, replicate),
            files.replicate_outputs(condition, slot, replicate),
            state,
        )

    @property
    def done(self) -> bool:
        files = (self.file, self.predictions, self.outputs, *([self.state] if self.state else []))
        return all(f.exists() for f in files)


def _train(data: TaskData, job: ReplicateJob) -> dict:
    """Train one replicate, write its test predictions, then its row (each atomically: a killed run leaves no
    partial file, and a replicate without its row is trained again)."""
    names = {f.name for f in fields(TrainConfig)}
    config = TrainConfig(**{k: v for k, v in job.config.items() if k in names})
    config = replace(config, seed=replicate_seed(config.seed, job.replicate))
    weights = np.array([job.loss_weights["primary"], *(job.loss_weights[n] for n in data.aux_names)], dtype=float)
    result = train(data, config, weights)
    metric, _ = data.selection
    row = {
        "replicate": job.replicate,
        "seed": config.seed,
        "dev_value": result.dev.get(metric),
        "test_value": result.test.get(metric),
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "stopped": result.stopped,
        "dev_metrics": result.dev,
        "test_metrics": result.test,
    }
    if result.test_predictions is not None:
        write_parquet_atomic(result.test_predictions, job.predictions)
    if result.outputs is not None:
        write_parquet_atomic(result.outputs, job.outputs)
    if job.state is not None:
        save_checkpoint(result.state_dict, job.state)
    with atomic_path(job.file) as tmp:
        Path(tmp).write_text(json.dumps(row), encoding="utf-8")
    return row


def replicate_jobs(
    studies: dict[str, optuna.Study], trials: pd.DataFrame, count: int, files: TrialFiles
) -> list[ReplicateJob]:
    """Every replicate of each condition's selected trial (`trials`: the searched conditions' rows)."""
    jobs = []
    if count <= 0 or trials.empty:
        return jobs
    for condition, slot in selected_trials(trials).items():
        if condition not in studies:
            continue
        trial = next(t for t in studies[condition].get_trials(deepcopy=False, states=FINISHED) if slot_of(t) == slot)
        for replicate in range(1, count + 1):
            config, weights = trial.user_attrs["config"], trial.user_attrs["loss_weights"]
            jobs.append(ReplicateJob.of(files, condition, slot, replicate, config, weights))
    return jobs


def seed_members(files: TrialFiles, condition: str, slot: int, count: int) -> tuple[list[int], list[int]]:
    """Which of replicates 1..`count` of a selected trial belong to its seed ensemble, and which do not: a
    member has its outputs, its state and its row (written last) on disk.  The one rule for the ensemble
    the results report (seed_ensemble.py) and the one a kept model carries (keeping.py), so that
    `hanrock predict --ensemble` averages the seeds the `ensembles` view averaged."""
    members, missing = [], []
    for k in range(1, count + 1):
        written = (files.replicate_outputs(condition, slot, k), files.replicate_state(condition, slot, k))
        complete = files.replicate_row(condition, slot, k).exists() and all(p.exists() for p in written)
        (members if complete else missing).append(k)
    return members, missing


def train_missing(data: TaskData, jobs: list[ReplicateJob], log: Log) -> None:
    """Train the replicates no run has written yet, here, one after another."""
    for job in jobs:
        if not job.done:
            row = _train(data, job)
            log(f"{job.condition} trial {job.slot} replicate {job.replicate}: dev {row['dev_value']:.4f}")


def replicate_rows(
    data: TaskData, jobs: list[ReplicateJob], trials: pd.DataFrame, key: dict, log: Log
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """The seed replicates `jobs` (replicate_jobs) as the search trained them: one row per replicate (the
    `all_replicates` table), and each replicate's test predictions (`all_predictions` rows); `trials`: the
    searched conditions' rows.  Reading only: a replicate not trained yet is an error of the caller
    (search.py trains them first)."""
    missing = [f"{j.condition} trial {j.slot} replicate {j.replicate}" for j in jobs if not j.done]
    if missing:
        raise RuntimeError(f"seed replicates not trained before their rows were written: {', '.join(missing)}")
    metric, _ = data.selection
    rows, values, predictions = [], {}, []
    for job in jobs:
        row = json.loads(job.file.read_text(encoding="utf-8"))
        if job.predictions.exists():
            frame = pd.read_parquet(job.predictions)
            predictions.append(frame.assign(**key, condition=job.condition, trial=job.slot, replicate=job.replicate))
        values.setdefault((job.condition, job.slot), []).append(row["test_value"])
        rows.append(
            {
                **key,
                "condition": job.condition,
                "trial": job.slot,
                **row,
                "metric": metric,
                "dev_metrics": json.dumps(row["dev_metrics"]),
                "test_metrics": json.dumps(row["test_metrics"]),
            }
        )
    for (condition, slot), tests in values.items():
        selected = trials.loc[(trials["condition"] == condition) & (trials["trial"] == slot), "test_value"].tolist()
        seeds = np.array(selected + tests, dtype=float)
        log(
            f"{key['hypothesis']} {key['dataset']}.{key['task']} {condition} trial {slot} and {len(tests)} seed "
            f"replicates: test {metric} {seeds.mean():.4f} (sd {seeds.std(ddof=1):.4f})"
        )
    return pd.DataFrame(rows), predictions


__all__ = [
    "ENSEMBLE",
    "SELECTED_TRIAL",
    "ReplicateJob",
    "replicate_jobs",
    "replicate_rows",
    "replicate_seed",
    "seed_members",
    "train_missing",
]
