"""Which trial each condition selects: the rule every part of the platform applies.

The selected trial of a condition is its best dev value among complete and pruned trials, the
lower slot on a tie: what the significance step, the paper's views (`selected_trials` in
sql/views.sql, tested against this) and the kept models (keeping.py) all pick.
"""

from __future__ import annotations

import optuna
import pandas as pd

from hanrock_core.study.median_stopping import slot_of

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def selected_trials(trials: pd.DataFrame) -> dict[str, int]:
    """Condition -> the trial chosen on dev: complete or pruned with a dev value, the best one, the
    lowest trial number on a tie (what the significance step and the paper's views pick)."""
    usable = trials[trials["state"].isin(["complete", "pruned"]) & trials["dev_value"].notna()]
    chosen = {}
    for condition, group in usable.groupby("condition", sort=False):
        lower_better = str(group["metric"].iloc[0]) == "mae"
        score = group["dev_value"].astype(float) * (1 if lower_better else -1)
        chosen[str(condition)] = int(group.assign(_score=score).sort_values(["_score", "trial"]).iloc[0]["trial"])
    return chosen


def could_be_selected(study: optuna.Study, slot: int, dev_value: float, metric: str, higher_better: bool) -> bool:
    """False when a finished trial of the study is better on dev, or equal in a lower slot.

    Selection only ever gains competitors, so such a trial can never be chosen and its state is
    not worth writing; anything else is kept until the search is over."""
    for other in study.get_trials(deepcopy=False, states=FINISHED):
        value = other.user_attrs.get("dev", {}).get(metric)
        if slot_of(other) == slot or value is None:
            continue
        if (value > dev_value if higher_better else value < dev_value) or (
            value == dev_value and slot_of(other) < slot
        ):
            return False
    return True


__all__ = ["FINISHED", "could_be_selected", "selected_trials"]
