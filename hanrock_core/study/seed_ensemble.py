"""Seed ensembles: each condition's selected configuration, its seeds' outputs averaged.

The selected trial and its seed replicates are already trained.  Averaging their predicted class
probabilities (or values, for regression) talkturn by talkturn gives one more model at no training
cost, usually better than a single seed and steadier.  One `all_ensembles` row per condition: the
ensemble's dev and test metrics, how many seeds it averages and the mean of its members' values; and
its test predictions, as `all_predictions` rows of replicate ENSEMBLE (-1), so that the paired test can
compare the ensemble with the floor (significance.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from hanrock_core.base.home import TrialFiles
from hanrock_core.learning.epoch_outputs import decide, metrics_of, prediction_frame
from hanrock_core.learning.task_data import TaskData
from hanrock_core.study.replicates import ENSEMBLE, ReplicateJob, seed_members

Log = Callable[[str], None]
SPLITS = ("dev", "test")


def average_outputs(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The mean over seeds of each talkturn's outputs.  Every frame must hold the same talkturns of the same
    splits (each seed predicts every labelled dev and test talkturn); a frame that does not is refused."""
    keys = ["utterance_id", "split"]
    first = frames[0].set_index(keys).sort_index()
    total = first.to_numpy(dtype=np.float64, copy=True)
    for frame in frames[1:]:
        other = frame.set_index(keys).sort_index()
        if not other.index.equals(first.index) or list(other.columns) != list(first.columns):
            raise ValueError("the seeds' outputs do not cover the same talkturns; the ensemble cannot pair them")
        total += other.to_numpy(dtype=np.float64)
    return pd.DataFrame(total / len(frames), index=first.index, columns=first.columns).reset_index()


def ensemble_metrics(data: TaskData, averaged: pd.DataFrame) -> tuple[dict[str, dict[str, float]], pd.DataFrame]:
    """split -> the task's metrics of the averaged outputs' predictions (argmax of the mean probabilities,
    or the mean value), and the test predictions (utterance_id, truth, prediction)."""
    position = pd.Index(data.utterance_ids.astype(str))
    columns = [c for c in averaged.columns if c.startswith("output_")]
    metrics, test = {}, pd.DataFrame(columns=["utterance_id", "truth", "prediction"])
    for split in SPLITS:
        part = averaged[averaged["split"] == split]
        if part.empty:
            continue
        rows = position.get_indexer(part["utterance_id"].astype(str))
        if (rows < 0).any():
            raise ValueError(f"{int((rows < 0).sum())} {split} talkturns of the outputs are not in the data")
        pred = decide(data, torch.tensor(part[columns].to_numpy(dtype=np.float32)))
        metrics[split] = metrics_of(data, rows, pred)
        if split == "test":
            test = prediction_frame(data, rows, pred)
    return metrics, test


def ensemble_rows(
    data: TaskData,
    jobs: list[ReplicateJob],
    trials: pd.DataFrame,
    count: int,
    files: TrialFiles,
    key: dict,
    log: Log,
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """One row per searched condition with seed replicates: its seed ensemble's dev and test metrics; and
    each ensemble's test prediction rows (replicate ENSEMBLE).

    `trials`: the searched conditions' rows (the floor is one deterministic fit: no ensemble).  A seed
    whose outputs file is missing is said in the log and left out of the ensemble, never silently."""
    metric, _ = data.selection
    rows, predictions = [], []
    for condition, slot in {(j.condition, j.slot): None for j in jobs}:
        members, missing = seed_members(files, condition, slot, count)
        paths = [files.trial_outputs(condition, slot), *(files.replicate_outputs(condition, slot, k) for k in members)]
        present = [p for p in paths if p.exists()]  # the selected trial first
        if missing or len(present) < len(paths):
            log(
                f"{condition} seed ensemble: replicate(s) {missing} not complete on disk"
                + ("" if paths[0].exists() else f", no outputs file {paths[0].name} of the selected trial")
                + f"; {len(present)} of {count + 1} seeds averaged"
            )
        if len(present) < 2:
            continue
        metrics, test_predictions = ensemble_metrics(data, average_outputs([pd.read_parquet(p) for p in present]))
        predictions.append(test_predictions.assign(**key, condition=condition, trial=slot, replicate=ENSEMBLE))
        selected = trials.loc[(trials["condition"] == condition) & (trials["trial"] == slot), "test_value"]
        dev, test = metrics.get("dev", {}), metrics.get("test", {})
        rows.append(
            {
                **key,
                "condition": condition,
                "trial": slot,
                "seeds": len(present),
                "metric": metric,
                "dev_value": dev.get(metric),
                "test_value": test.get(metric),
                "dev_metrics": json.dumps(dev),
                "test_metrics": json.dumps(test),
            }
        )
        log(
            f"{key['hypothesis']} {key['dataset']}.{key['task']} {condition} seed ensemble of {len(present)}: "
            f"dev {metric} {dev.get(metric, float('nan')):.4f}, test {test.get(metric, float('nan')):.4f} "
            f"(the selected trial alone: test {float(selected.iloc[0]) if len(selected) else float('nan'):.4f})"
        )
    return pd.DataFrame(rows), predictions


__all__ = ["average_outputs", "ensemble_metrics", "ensemble_rows"]
