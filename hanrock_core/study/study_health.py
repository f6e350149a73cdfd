"""Study health: did the trials learn, did the selected model finish learning, does it beat the floor?

A comparison between two models says little when one of them never left chance level or was still
improving when its epochs ran out.  For every condition of a partition's current study this module
reports (through the `study_health` view of sql/views.sql):

    trials_at_chance   trials whose best dev value is within 0.02 of the trivial predictor's (2% of
                       its MAE for a regression task); the trivial predictor always says the majority
                       train class, or the train mean
    still_improving    the selected trial's best epoch was its last and it did not stop for patience
    below_floor        the selected trial is worse on dev than the bag-of-words floor
    dev_test_gap       how much worse the selected trial is on test than on dev; flagged when it is
                       worse and exceeds the floor's own gap (0 when the floor does better on test) by
                       more than a tenth of the dev value (a gap the floor shares is the split's)
    unseen_classes     classes of dev or test that no train talkturn has (no model can learn them; their
                       talkturns count as errors), or of test that dev lacks (selection cannot weigh them)

The margins live in the view; the trivial predictor's values are written beside each study's
trials (`chance_levels`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hanrock_core.base.metrics import classification_metrics, regression_metrics
from hanrock_core.base.results import in_memory, query


def chance_levels(data) -> dict:
    """The metric of the trivial predictor on dev and test: the majority train class (for balanced
    accuracy any constant class: 1 / the classes present), or the train mean.

    `data` is a training.TaskData; returns {"metric", "dev_value", "test_value", "predictor", "unseen_classes"}."""
    metric, _ = data.selection
    train = data.primary[torch.from_numpy(data.labelled("train"))].numpy()
    out = {"metric": metric}
    if data.classification:
        majority = int(np.bincount(train.astype(int), minlength=len(data.classes)).argmax())
        out["predictor"] = f"always the majority train class {data.classes[majority]!r}"
    else:
        mean = float(train.mean())
        out["predictor"] = f"always the train mean {mean:.3f}"
    for split in ("dev", "test"):
        rows = data.labelled(split)
        truth = data.primary[torch.from_numpy(rows)].numpy()
        if len(rows) == 0:
            out[f"{split}_value"] = None
        elif metric == "balanced_accuracy":  # any constant answer scores 1 / K over the K classes present
            out[f"{split}_value"] = 1.0 / len(np.unique(truth))
        elif data.classification:
            out[f"{split}_value"] = classification_metrics(
                truth.astype(int), np.full(len(rows), majority), data.classes
            )[metric]
        else:
            out[f"{split}_value"] = regression_metrics(truth, np.full(len(rows), mean))[metric]
    out["unseen_classes"] = unseen_classes(data)
    return out


def unseen_classes(data) -> str | None:
    """In words, the classes some split has but train (or dev) lacks, with their talkturns; None when none."""
    if not data.classification:
        return None
    counts = {
        split: np.bincount(data.primary[torch.from_numpy(data.labelled(split))].numpy(), minlength=len(data.classes))
        for split in ("train", "dev", "test")
    }
    said = []
    for k, name in enumerate(data.classes):
        elsewhere = {s: int(c[k]) for s, c in counts.items() if c[k]}
        if counts["train"][k] == 0 and elsewhere:
            where = ", ".join(f"{n} {s}" for s, n in elsewhere.items())
            said.append(f"{name!r} never in train ({where} talkturns count as errors)")
        elif counts["dev"][k] == 0 and counts["test"][k]:
            said.append(f"{name!r} never in dev ({int(counts['test'][k])} test talkturns; selection cannot weigh it)")
    return "; ".join(said) or None


def health(results_db: Path, hypothesis: str | None = None, keys: list[str] | None = None) -> pd.DataFrame:
    """Rows of the `study_health` view (a hypothesis's, of some dataset.task keys), flagged ones first."""
    if not Path(results_db).exists():
        return pd.DataFrame()
    rows = query(
        results_db,
        "SELECT * FROM study_health" + (" WHERE hypothesis = ?" if hypothesis else ""),
        [hypothesis] if hypothesis else [],
    )
    if keys is not None:
        rows = rows[(rows["dataset"] + "." + rows["task"]).isin(keys)]
    return rows.reset_index(drop=True)


def partition_health(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The `study_health` rows of one partition's freshly written tables (all_trials, all_chance_levels,
    study_identities), computed in memory by the same view: a worker that only stages its rows has them too."""
    conn = in_memory(tables)
    try:
        return conn.execute("SELECT * FROM study_health").df()
    finally:
        conn.close()


def flagged_conditions(rows: pd.DataFrame) -> set[tuple[str, str, str, str]]:
    """(hypothesis, dataset, task, condition) of every condition with at least one flag."""
    bad = rows[rows["flags"].fillna("") != ""]
    return set(map(tuple, bad[["hypothesis", "dataset", "task", "condition"]].to_numpy()))


def flagged_comparisons(significance: pd.DataFrame, rows: pd.DataFrame) -> int:
    """How many comparisons of a significance table involve a flagged model (the floor is never flagged)."""
    flagged = flagged_conditions(rows)
    if significance.empty:
        return 0
    keys = significance[["hypothesis", "dataset", "task", "baseline", "challenger"]].drop_duplicates()  # both methods
    involved = [(h, d, t, b) in flagged or (h, d, t, c) in flagged for h, d, t, b, c in keys.to_numpy()]
    return int(np.sum(involved))


def describe(rows: pd.DataFrame) -> list[str]:
    """One plain sentence per flagged condition."""
    out = []
    for r in rows[rows["flags"].fillna("") != ""].itertuples():
        out.append(f"{r.hypothesis} {r.dataset}.{r.task} {r.condition}: {r.flags}")
    return out


__all__ = [
    "chance_levels",
    "unseen_classes",
    "partition_health",
    "describe",
    "flagged_comparisons",
    "flagged_conditions",
    "health",
]
