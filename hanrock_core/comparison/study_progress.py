"""Where a study stands: the conditions each dataset.task runs, whether each has the trials the
bootstrap needs, and the significance tables written once it has.

Read from the results database only, so the asset, the study job and a user's script agree.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from hanrock_core.base.results import query, replace_rows
from hanrock_core.comparison.significance import hypothesis_tables, paired_table
from hanrock_core.learning.floor import CONDITION as FLOOR
from hanrock_core.study.hypotheses import Condition, comparisons, conditions
from hanrock_core.study.profiles import Profile


def partition_conditions(
    results_db: Path, hypothesis: str, profile: Profile, keys: list[str]
) -> dict[str, list[Condition]]:
    """The conditions each dataset.task runs: those its auxiliary families (MI rows) support."""
    families = (
        query(results_db, "SELECT DISTINCT dataset || '.' || task AS key, family FROM mutual_information")
        if results_db.exists()
        else pd.DataFrame(columns=["key", "family"])
    )
    out = {}
    for key in keys:
        available = tuple(families.loc[families["key"] == key, "family"])
        out[key] = conditions(hypothesis, profile, available) if available else conditions(hypothesis, profile)
    return out


def completeness(results_db: Path, hypothesis: str, profile: Profile, keys: list[str]) -> list[str]:
    """The dataset.task keys, or their conditions, that lack the 2 finished trials the bootstrap needs."""
    have = (
        query(
            results_db,
            "SELECT dataset || '.' || task AS key, condition, count(*) AS n FROM trials "
            "WHERE hypothesis = ? AND state IN ('complete', 'pruned') GROUP BY ALL",
            [hypothesis],
        )
        if results_db.exists()
        else pd.DataFrame(columns=["key", "condition", "n"])
    )
    problems = []
    for key, conds in partition_conditions(results_db, hypothesis, profile, sorted(keys)).items():
        rows = have[have["key"] == key]
        if rows.empty:
            problems.append(f"{key}: not trained")
            continue
        for condition in conds:
            n = int(rows.loc[rows["condition"] == condition.name, "n"].sum())
            if n < 2:
                problems.append(f"{key} {condition.name}: {n} finished trials (the bootstrap needs 2)")
    return problems


def write_significance_tables(
    results_db: Path, hypothesis: str, profile: Profile, log: Callable[[str], None]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Test every comparison of the hypothesis on every trained dataset.task (against the floor too, where it
    was fitted) by the paper's A.4 (`paper`), the selected configurations' seeds (`paired`) and, between two
    searched conditions, every slot of both searches (`search`: the verdict about the conditions); each seed
    ensemble against the floor and against the other condition's (`paired`); replace the hypothesis's rows
    of `significance` and `class_f1`."""
    trials = query(results_db, "SELECT * FROM trials WHERE hypothesis = ?", [hypothesis])
    keys = sorted(set(trials["dataset"] + "." + trials["task"]))
    floors = trials[trials["condition"] == FLOOR]
    with_floor = set(floors["dataset"] + "." + floors["task"])
    pairs = {
        key: comparisons(hypothesis, conds, floor=key in with_floor)
        for key, conds in partition_conditions(results_db, hypothesis, profile, keys).items()
    }
    boot = profile.bootstrap
    paper, f1 = hypothesis_tables(trials, hypothesis, pairs, boot.get("resamples", 1000), boot.get("seed", 0))
    predictions = query(results_db, "SELECT * FROM seed_predictions WHERE hypothesis = ?", [hypothesis])
    ensembles = query(results_db, "SELECT * FROM ensemble_predictions WHERE hypothesis = ?", [hypothesis])
    slots = query(results_db, "SELECT * FROM slot_predictions WHERE hypothesis = ?", [hypothesis])
    paired = paired_table(
        predictions, trials, hypothesis, pairs, seed=boot.get("seed", 0), ensembles=ensembles, slots=slots
    )
    table = pd.concat([paper, paired], ignore_index=True) if len(paired) else paper
    replace_rows(results_db, "significance", {"hypothesis": hypothesis}, table, log)
    replace_rows(results_db, "class_f1", {"hypothesis": hypothesis}, f1, log)
    return table, f1
