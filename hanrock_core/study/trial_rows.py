"""The rows a partition's search writes: one per trial (and the bag-of-words floor's), its epochs,
the selected trials' test predictions, the trivial predictor, seed replicates and the identity."""

from __future__ import annotations

import json
from collections.abc import Callable

import optuna
import pandas as pd

from hanrock_core.base.home import Home, TrialFiles
from hanrock_core.base.staged_results import staged_only, write_rows
from hanrock_core.learning.floor import CONDITION as FLOOR
from hanrock_core.learning.floor import FloorResult, fit_floor
from hanrock_core.study.hypotheses import Condition
from hanrock_core.study.partition_data import PartitionData
from hanrock_core.study.profiles import Profile
from hanrock_core.study.replicates import SELECTED_TRIAL, ReplicateJob, replicate_rows
from hanrock_core.study.seed_ensemble import ensemble_rows
from hanrock_core.study.selection import selected_trials
from hanrock_core.study.study_health import chance_levels
from hanrock_core.study.study_storage import InputsCheck, slot_trials

Log = Callable[[str], None]


def partition_floor(part: PartitionData, seed: int, log: Log) -> FloorResult:
    """The bag-of-words floor of the partition (seconds): TF-IDF + a linear model, C chosen on dev."""
    data = part.data
    labels = data.primary.numpy().astype(float)
    floor = fit_floor(data.texts, labels, data.split, data.classes, data.metric, seed)
    metric, _ = data.selection
    log(
        f"{part.dataset}.{part.task} bag-of-words floor (C = {floor.strength:g}): dev {metric} "
        f"{floor.dev[metric]:.4f}, test {floor.test[metric]:.4f}"
    )
    return floor


def _floor_rows(floor: FloorResult, part: PartitionData, key: dict, metric: str) -> tuple[dict, pd.DataFrame]:
    """The floor as a one-trial condition of the trials table, and its test predictions."""
    row = {
        **key,
        "condition": FLOOR,
        "trial": 0,
        "state": "complete",
        "metric": metric,
        "dev_value": floor.dev[metric],
        "test_value": floor.test[metric],
        "l2": 1.0 / floor.strength,
        "loss_weights": json.dumps({}),
        "dev_metrics": json.dumps(floor.dev),
        "test_metrics": json.dumps(floor.test),
        "reason": f"TF-IDF + {'logistic' if part.data.classification else 'ridge'} regression, C = {floor.strength:g} "
        "chosen on dev (not a neural model; not in the paper)",
    }
    predictions = floor.test_predictions.assign(
        utterance_id=part.data.utterance_ids[floor.test_predictions["row"]], **key, condition=FLOOR, trial=0
    ).drop(columns="row")
    return row, predictions


def _with_dialogues(predictions: pd.DataFrame, part: PartitionData) -> pd.DataFrame:
    """Prediction rows with each talkturn's dialogue (the paired test resamples dialogues), truth and
    prediction as text."""
    dialogue = pd.Series(part.data.dialogue_names(), index=part.data.utterance_ids)
    out = predictions.assign(dialogue=dialogue.reindex(predictions["utterance_id"].astype(str)).to_numpy())
    return out.astype({"truth": str, "prediction": str})


def _state(trial: optuna.trial.FrozenTrial) -> str:
    return {optuna.trial.TrialState.COMPLETE: "complete", optuna.trial.TrialState.PRUNED: "pruned"}.get(
        trial.state, "failed"
    )


def _trial_row(t: optuna.trial.FrozenTrial, slot: int, key: dict, condition: str, metric: str) -> dict:
    """One row of the trials table."""
    cfg, dev, test = t.user_attrs.get("config", {}), t.user_attrs.get("dev", {}), t.user_attrs.get("test", {})
    weights = dict(t.user_attrs.get("loss_weights", {}))
    return {
        **key,
        "condition": condition,
        "trial": slot,
        "state": _state(t),
        "reason": t.user_attrs.get("reason"),
        "metric": metric,
        "best_epoch": t.user_attrs.get("best_epoch"),
        "dev_value": dev.get(metric),
        "test_value": test.get(metric),
        "learning_rate": cfg.get("learning_rate"),
        "batch_size": cfg.get("batch_size"),
        "primary_units": cfg.get("primary_units"),
        "aux_units": cfg.get("aux_units"),
        "l2": cfg.get("l2"),
        "content_size": cfg.get("content_size"),
        "dropout": cfg.get("dropout"),
        "recurrent_dropout": cfg.get("recurrent_dropout"),
        "weight_scheme": t.user_attrs.get("weight_scheme"),
        "primary_weight": weights.pop("primary", None),
        "loss_weights": json.dumps(weights),
        "dev_metrics": json.dumps(dev),
        "test_metrics": json.dumps(test),
        "epochs_run": len(t.user_attrs.get("history", [])),
        "seconds": t.user_attrs.get("seconds"),
        "attempt": t.number,
        "stopped": t.user_attrs.get("stopped"),
    }


def searched_rows(
    part: PartitionData,
    hypothesis: str,
    conds: list[Condition],
    studies: dict[str, optuna.Study],
    profile: Profile,
    key: dict,
) -> list[dict]:
    """One trials-table row per finished slot of every condition (the floor not included)."""
    metric, _ = part.data.selection
    return [
        _trial_row(t, slot, key, condition.name, metric)
        for condition in conds
        for slot, t in slot_trials(studies[condition.name], profile.trials_per_condition).items()
    ]


def affinity_rows(
    conds: list[Condition], studies: dict[str, optuna.Study], profile: Profile, key: dict
) -> pd.DataFrame:
    """Each trial's measured affinity and final loss weight per auxiliary target (loss_weighting.py)."""
    rows = []
    for condition in conds:
        for slot, t in slot_trials(studies[condition.name], profile.trials_per_condition).items():
            recorded = t.user_attrs.get("weighting") or {}
            kept = recorded.get("kept_targets")
            for target, value in (recorded.get("affinity") or {}).items():
                rows.append(
                    {
                        **key,
                        "condition": condition.name,
                        "trial": slot,
                        "aux_task": target,
                        "weighting": recorded.get("weighting"),
                        "affinity": value,
                        "final_weight": (recorded.get("final_weights") or {}).get(target),
                        "kept": None if kept is None else target in kept,
                    }
                )
    return pd.DataFrame(rows)


def identity_row(key: dict, inputs: InputsCheck, profile: Profile) -> pd.DataFrame:
    """The `study_identities` row of a partition's studies: what they were trained on, and what changed."""
    return pd.DataFrame(
        [
            {
                **key,
                "profile": profile.name,
                "parts": json.dumps(inputs.identity.parts),
                "previous": inputs.previous,
                "differs": ", ".join(inputs.differs) or None,
                "recorded_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
            }
        ]
    )


def slot_prediction_frames(
    conds: list[Condition], studies: dict[str, optuna.Study], profile: Profile, files: TrialFiles, key: dict
) -> list[pd.DataFrame]:
    """The test predictions of every finished slot of every condition (what the search test compares slot by
    slot); a slot whose file is gone (a trial of an older version) is left out, and the test pairs fewer slots."""
    frames = []
    for condition in conds:
        for slot, trial in slot_trials(studies[condition.name], profile.trials_per_condition).items():
            file = files.trial_predictions(condition.name, slot)
            if _state(trial) != "failed" and file.exists():
                frames.append(pd.read_parquet(file).assign(**key, condition=condition.name, trial=slot))
    return frames


def write_results(
    part: PartitionData,
    hypothesis: str,
    conds: list[Condition],
    studies: dict[str, optuna.Study],
    files: TrialFiles,
    home: Home,
    log: Log,
    floor: FloorResult | None,
    inputs: InputsCheck,
    profile: Profile,
    jobs: list[ReplicateJob],
) -> pd.DataFrame:
    """Replace this partition's rows of its identity in trials, epochs, predictions, chance levels and seed
    replicates (`jobs`, as the search trained them; one transaction per table; the floor is a row too), then
    record the identity as the partition's current one."""
    metric, _ = part.data.selection
    identity = inputs.identity.id
    key = {"hypothesis": hypothesis, "dataset": part.dataset, "task": part.task, "identity": identity}
    trial_rows, prediction_frames = searched_rows(part, hypothesis, conds, studies, profile, key), []
    epoch_rows = [
        {
            **key,
            "condition": condition.name,
            "trial": slot,
            "epoch": h["epoch"],
            "train_loss": h["train_loss"],
            "dev_value": h.get(f"dev_{metric}"),
            "test_value": h.get(f"test_{metric}"),
        }
        for condition in conds
        for slot, t in slot_trials(studies[condition.name], profile.trials_per_condition).items()
        for h in t.user_attrs.get("history", [])
    ]
    chosen = selected_trials(pd.DataFrame(trial_rows)) if trial_rows else {}
    for condition, number in chosen.items():
        file = files.trial_predictions(condition, number)
        if file.exists():
            prediction_frames.append(
                pd.read_parquet(file).assign(**key, condition=condition, trial=number, replicate=SELECTED_TRIAL)
            )
    if floor is not None:
        row, predictions = _floor_rows(floor, part, key, metric)
        trial_rows.append(row)
        prediction_frames.append(predictions.assign(replicate=SELECTED_TRIAL))
    trials = pd.DataFrame(trial_rows)
    searched = trials[trials["condition"] != FLOOR]
    replicates, replicate_predictions = replicate_rows(part.data, jobs, searched, key, log)
    ensembles, ensemble_predictions = ensemble_rows(part.data, jobs, searched, profile.replicates, files, key, log)
    prediction_frames = [
        _with_dialogues(f, part) for f in prediction_frames + replicate_predictions + ensemble_predictions
    ]
    slot_frames = [_with_dialogues(f, part) for f in slot_prediction_frames(conds, studies, profile, files, key)]
    write_rows(home, "all_trials", key, trials, log)
    write_rows(home, "all_epochs", key, pd.DataFrame(epoch_rows), log)
    write_rows(home, "all_predictions", key, pd.concat(prediction_frames) if prediction_frames else pd.DataFrame(), log)
    write_rows(home, "all_slot_predictions", key, pd.concat(slot_frames) if slot_frames else pd.DataFrame(), log)
    write_rows(home, "all_chance_levels", key, pd.DataFrame([{**key, **chance_levels(part.data)}]), log)
    write_rows(home, "all_replicates", key, replicates, log)
    write_rows(home, "all_ensembles", key, ensembles, log)
    write_rows(home, "all_auxiliary_affinity", key, affinity_rows(conds, studies, profile, key), log)
    write_rows(home, "study_identities", key, identity_row(key, inputs, profile), log)  # last: now current
    counts = trials.groupby(["condition", "state"]).size().to_dict() if len(trials) else {}
    where = "staged for the significance step" if staged_only() else f"to {home.results_db}"
    log(f"{hypothesis} {part.dataset}.{part.task}: wrote {len(trials)} trials ({counts}) of inputs {identity} {where}")
    return trials


__all__ = ["affinity_rows", "partition_floor", "searched_rows", "slot_prediction_frames", "write_results"]
