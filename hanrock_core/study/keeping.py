"""Keeping the selected models: each condition's selected state becomes a kept model folder.

During a search every finished trial that may still be selected (selection.could_be_selected) leaves its
chosen epoch's state in `studies/<h>/<dataset.task>.states/<identity>/<condition>-<trial>.pt`; when the
search is over, each condition's selected state becomes a kept model (learning/kept_model.py: the
folder's format) and the other states go.

A kept model belongs to its study's identity like every other output: when a run on other inputs
replaces it, the old folder moves to `models/<h>/<dataset.task>/superseded/<identity>/` and comes
back when a run returns to those inputs; a selected trial whose state is gone is trained again
from its recorded configuration and seed, and kept only when it reproduces its recorded dev value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import torch

from hanrock_core.base.home import Home, ModelFiles, TrialFiles
from hanrock_core.base.io import move_directory
from hanrock_core.learning.checkpoint import save_checkpoint
from hanrock_core.learning.kept_model import (
    card_if_intact,
    ensemble_seeds,
    folder_bytes,
    model_card,
    training_config_fields,
    write_model,
)
from hanrock_core.learning.task_data import TaskData
from hanrock_core.learning.train_config import TrainConfig
from hanrock_core.learning.training import model_shape, train
from hanrock_core.preparation.narrative import NarrativeRecipe, SpeakerNorms
from hanrock_core.study.median_stopping import slot_of
from hanrock_core.study.replicates import seed_members
from hanrock_core.study.selection import FINISHED, selected_trials

KEPT = ("kept", "unchanged", "restored", "rebuilt")  # the outcomes that leave a model in place
Log = Callable[[str], None]


def keep_trial_state(path: Path, state: dict) -> Path:
    """Write one trial's chosen-epoch state (atomically: a killed trial leaves none)."""
    return save_checkpoint(state, path)


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


def _is_this_trial(card: dict | None, study: optuna.Study, record: dict, seeds: int) -> bool:
    """Whether a kept model's card names this study's trial (its start time tells a re-run slot apart) with
    the seed ensemble of `seeds` seeds (more replicates trained since: the folder is written again)."""
    return bool(
        card
        and card.get("study") == study.study_name
        and card.get("trial") == record["slot"]
        and card.get("trial_started") == record["started"]
        and ensemble_seeds(card) == seeds
    )


def _card_identity(card: dict) -> str:
    """The identity a kept model's card records (a model kept before identities: `before-identities`)."""
    return str((card.get("identity") or {}).get("id") or "before-identities")


# a rebuilt model must reproduce its trial's recorded dev value to this precision
REBUILD_TOLERANCE = 1e-6


def rebuild_trial_state(data: TaskData, record: dict, state: Path, log: Log) -> bool:
    """Train a selected trial again from its recorded configuration, seed and loss weights, for the epochs it
    ran (so the same epoch is chosen), and write its state when its dev value is the recorded one."""
    metric, _ = data.selection
    config = TrainConfig(**training_config_fields(record["config"]))
    config = replace(config, epochs=int(record["epochs_run"]) or config.epochs)
    weights = record["loss_weights"]
    vector = np.array([weights["primary"], *(weights.get(n, 0.0) for n in data.aux_names)], dtype=float)
    result = train(data, config, vector)
    recorded, again = record["dev"].get(metric), result.dev.get(metric)
    if recorded is None or again is None or not math.isclose(again, recorded, rel_tol=0, abs_tol=REBUILD_TOLERANCE):
        log(f"trial {record['slot']} trained again reaches dev {metric} {again}, not its recorded {recorded}")
        return False
    save_checkpoint(result.state_dict, state)
    return True


def _keep_one(
    data: TaskData,
    study: optuna.Study,
    slot: int,
    target: Path,
    state: Path,
    seed_states: tuple[Path, ...],
    provenance: dict,
    narrative: NarrativeRecipe,
    norms: SpeakerNorms | None,
    vectors: str | None,
    archive: Callable[[str], Path],
    log: Log,
) -> str:
    """Write (or leave, restore, rebuild) the kept model of one condition's selected trial; returns what
    happened: unchanged, restored, kept, rebuilt, or not reproduced.  A model of other inputs found at
    `target` moves to `archive(its identity)` first, so a kept model never outlives its study."""
    trial = next(t for t in study.get_trials(deepcopy=False, states=FINISHED) if slot_of(t) == slot)
    record = trial_record(trial)
    card = card_if_intact(target)
    seeds = 1 + len(seed_states)
    if _is_this_trial(card, study, record, seeds):
        return "unchanged"
    if card is not None:  # another study's model: kept for a run that returns to its inputs
        move_directory(target, archive(_card_identity(card)))
    waiting = archive(str(provenance["identity"]["id"])) if provenance.get("identity") else None
    if waiting is not None and _is_this_trial(card_if_intact(waiting), study, record, seeds):
        move_directory(waiting, target)
        return "restored"
    status = "kept"
    if not state.exists():
        log(f"{study.study_name}: the state of selected trial {slot} is gone; training it again to keep its model")
        if not rebuild_trial_state(data, record, state, log):
            if target.exists():  # a damaged folder: never left where `hanrock predict` would look
                move_directory(target, archive("damaged"))
            return "not reproduced"
        status = "rebuilt"
    shape = model_shape(data, TrainConfig(**training_config_fields(record["config"])))
    write_model(
        target,
        state,
        model_card(data, record, {**provenance, "study": study.study_name}, narrative, norms, shape, vectors),
        data.vocab,
        seed_states,
    )
    return status


def keep_selected_models(
    data: TaskData,
    narrative: NarrativeRecipe,
    norms: SpeakerNorms | None,
    vectors: str | None,
    hypothesis: str,
    dataset: str,
    task: str,
    trials: pd.DataFrame,
    studies: dict[str, optuna.Study],
    files: TrialFiles,
    home: Home,
    log: Log,
    provenance: dict | None = None,
    replicates: int = 0,
    lent_models: dict[str, Path] | None = None,
) -> pd.DataFrame:
    """After the search: the selected trial of each condition becomes a kept model, with its `replicates`
    seed replicates' states as its seed ensemble; the other states go.  A condition another hypothesis's
    study trained (`lent_models`: condition -> that hypothesis's kept model folder; condition_reuse.py)
    is kept from that study's state or kept model, and nothing of that study's is written or removed.

    `provenance` (the studies' identity and profile) goes on every card.  Returns one row per
    condition: its trial, what happened (kept, unchanged, restored, rebuilt, not reproduced), folder, bytes."""
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
            state = files.trial_state(condition, slot)

            def archive(identity: str, condition: str = condition) -> Path:
                return home.superseded_model_dir(hypothesis, key, identity, condition)

            seed_states = ensemble_states(files, condition, slot, replicates, log)
            lent = (lent_models or {}).get(condition)
            if lent is not None and not state.exists():  # a rebuilt state goes to this search's folder
                own = replace(files, lent=()).trial_state(condition, slot)
                state = _lent_weights(lent, study, slot, 1 + len(seed_states)) or own
            status = _keep_one(
                data, study, slot, target, state, seed_states, where, narrative, norms, vectors, archive, log
            )
            if status == "not reproduced":
                log(
                    f"WARNING {hypothesis} {key} {condition}: the selected trial {slot} left no state and training "
                    "it again did not reproduce its recorded dev value (another machine or PyTorch build?); no "
                    f"model is kept for it (nothing stale is left in {target}) -> re-run the study on the machine "
                    "that trained it, or with another profile to train new studies"
                )
        rows.append(
            {
                "condition": condition,
                "trial": slot,
                "status": status,
                "path": str(target),
                "bytes": folder_bytes(target) if status in KEPT else 0,
                "states_removed": _remove_states(files.states, condition),  # this search's own: never a lender's
            }
        )
    kept = pd.DataFrame(rows)
    log(
        f"{hypothesis} {key}: kept models "
        + ", ".join(f"{r.condition} (trial {r.trial}, {r.status})" for r in kept.itertuples())
        + f"; {kept['bytes'].sum() / 1e6:.1f} MB under {home.model_dir(hypothesis, key)}"
    )
    return kept


def _lent_weights(folder: Path, study: optuna.Study, slot: int, seeds: int) -> Path | None:
    """The weights of the lender's kept model when it holds this very trial (its search removed the trial's
    state once it kept the model), else None."""
    trial = next(t for t in study.get_trials(deepcopy=False, states=FINISHED) if slot_of(t) == slot)
    if _is_this_trial(card_if_intact(folder), study, trial_record(trial), seeds):
        return ModelFiles(folder).weights
    return None


def ensemble_states(files: TrialFiles, condition: str, slot: int, replicates: int, log: Log) -> tuple[Path, ...]:
    """The states of the selected trial's seed ensemble members (replicates.seed_members: the seeds the
    `ensembles` view averaged); a member whose state does not load is left out with a warning."""
    states = []
    members, _ = seed_members(files, condition, slot, replicates)
    for k in members:
        path = files.replicate_state(condition, slot, k)
        if not _loads(path):
            log(
                f"WARNING the state of seed replicate {k} ({path}) does not load (cut short or damaged): the kept "
                "model's seed ensemble leaves it out -> delete that file and run the study again: "
                "the replicate is trained again"
            )
            continue
        states.append(path)
    return tuple(states)


def _loads(path: Path) -> bool:
    """Whether a state file reads back (weights_only), so that no damaged state becomes part of a kept model."""
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any failure to read is a damaged file
        return False
    return True


def _remove_states(states_dir: Path, condition: str) -> int:
    """Delete every trial state of one condition (its search is over); returns how many."""
    removed = 0
    for path in Path(states_dir).glob("*.pt"):
        name, _, number = path.stem.rpartition("-")
        if name == condition and number.isdigit():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


__all__ = ["KEPT", "keep_selected_models", "keep_trial_state", "rebuild_trial_state", "trial_record"]
