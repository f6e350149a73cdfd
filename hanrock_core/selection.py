"""Which trial each condition selects, and keeping the states that may still be selected.

The selected trial of a condition is its best dev value among complete and pruned trials, the
lower slot on a tie: what the significance step, the paper's views and the kept models all pick.
During a search every finished trial that may still be selected leaves its chosen epoch's state
in `studies/<h>/<dataset.task>.states/<identity>/<condition>-<trial>.pt`; when the search is over,
each condition's selected state becomes a kept model (kept_model.py) and the other states go.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna
import pandas as pd

from .home import Home
from .kept_model import card_if_intact, folder_bytes, model_card, training_config_fields, write_model
from .median_stopping import slot_of
from .narrative import NarrativeRecipe
from .training import TaskData, TrainConfig, model_shape, save_checkpoint

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
Log = Callable[[str], None]


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


def trial_state_file(states_dir: Path, condition: str, trial: int) -> Path:
    return Path(states_dir) / f"{condition}-{trial}.pt"


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


def keep_trial_state(states_dir: Path, condition: str, trial: int, state: dict) -> Path:
    """Write one trial's chosen-epoch state (atomically: a killed trial leaves none)."""
    return save_checkpoint(state, trial_state_file(states_dir, condition, trial))


def trial_record(trial: optuna.trial.FrozenTrial) -> dict:
    """What a kept model's card needs of its trial, without Optuna's types."""
    return {
        "slot": slot_of(trial),
        "state": "complete" if trial.state == FINISHED[0] else "pruned",
        "started": trial.datetime_start.isoformat() if trial.datetime_start else None,
        "best_epoch": trial.user_attrs.get("best_epoch"),
        "epochs_run": len(trial.user_attrs.get("history", [])),
        "dev": trial.user_attrs.get("dev", {}),
        "test": trial.user_attrs.get("test", {}),
        "config": trial.user_attrs["config"],
        "loss_weights": trial.user_attrs.get("loss_weights", {}),
        "weight_scheme": trial.user_attrs.get("weight_scheme"),
    }


def _keep_one(
    data: TaskData,
    study: optuna.Study,
    slot: int,
    target: Path,
    state: Path,
    provenance: dict,
    narrative: NarrativeRecipe,
    vectors: str | None,
) -> str:
    """Write (or leave) the kept model of one condition's selected trial; returns what happened."""
    trial = next(t for t in study.get_trials(deepcopy=False, states=FINISHED) if slot_of(t) == slot)
    record = trial_record(trial)
    card = card_if_intact(target)
    if (
        card
        and card.get("study") == study.study_name
        and card.get("trial") == slot
        and card.get("trial_started") == record["started"]
    ):
        return "unchanged"
    if not state.exists():
        return "missing"
    shape = model_shape(data, TrainConfig(**training_config_fields(record["config"])))
    write_model(
        target,
        state,
        model_card(data, record, {**provenance, "study": study.study_name}, narrative, shape, vectors),
        data.vocab,
    )
    return "kept"


def keep_selected_models(
    data: TaskData,
    narrative: NarrativeRecipe,
    vectors: str | None,
    hypothesis: str,
    dataset: str,
    task: str,
    trials: pd.DataFrame,
    studies: dict[str, optuna.Study],
    states_dir: Path,
    home: Home,
    log: Log,
    provenance: dict | None = None,
) -> pd.DataFrame:
    """After the search: the selected trial of each condition becomes a kept model; the other states go.

    `provenance` (the studies' identity and profile) goes on every card.  Returns one row per
    condition: its trial, what happened (kept, unchanged, missing), folder, bytes."""
    key = f"{dataset}.{task}"
    chosen = selected_trials(trials)
    rows = []
    for condition, study in studies.items():
        target = home.model_dir(hypothesis, key, condition)
        slot = chosen.get(condition)
        status = "no finished trial"
        if slot is not None:
            where = {
                "hypothesis": hypothesis,
                "dataset": dataset,
                "task": task,
                "condition": condition,
                **(provenance or {}),
            }
            state = trial_state_file(states_dir, condition, slot)
            status = _keep_one(data, study, slot, target, state, where, narrative, vectors)
            if status == "missing":
                log(
                    f"WARNING {hypothesis} {key} {condition}: the selected trial {slot} left no state ({state} is "
                    "absent: it ran before this platform kept models, or the file was deleted); no model is kept for "
                    f"it -> delete {home.study_db(hypothesis, key)} and re-run the study to train it again"
                )
        rows.append(
            {
                "condition": condition,
                "trial": slot,
                "status": status,
                "path": str(target),
                "bytes": folder_bytes(target) if status in ("kept", "unchanged") else 0,
                "states_removed": _remove_states(states_dir, condition),
            }
        )
    kept = pd.DataFrame(rows)
    log(
        f"{hypothesis} {key}: kept models "
        + ", ".join(f"{r.condition} (trial {r.trial}, {r.status})" for r in kept.itertuples())
        + f"; {kept['bytes'].sum() / 1e6:.1f} MB under {home.model_dir(hypothesis, key)}"
    )
    return kept


def _remove_states(states_dir: Path, condition: str) -> int:
    """Delete every trial state of one condition (its search is over); returns how many."""
    removed = 0
    for path in Path(states_dir).glob("*.pt"):
        name, _, number = path.stem.rpartition("-")
        if name == condition and number.isdigit():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


__all__ = [
    "FINISHED",
    "could_be_selected",
    "keep_selected_models",
    "keep_trial_state",
    "selected_trials",
    "trial_state_file",
]
