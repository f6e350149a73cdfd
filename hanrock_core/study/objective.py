"""One trial of a condition: its configuration (a point of the Table 6 space, paired across
conditions by slot), its loss weights, and training it with the median pruner watching."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import optuna

from hanrock_core.base.home import TrialFiles
from hanrock_core.base.io import write_parquet_atomic
from hanrock_core.learning.train_config import TrainConfig
from hanrock_core.learning.training import TrainingDiverged, train
from hanrock_core.preparation.mi_loss_weights import SCHEMES, assign_loss_weights
from hanrock_core.study.hypotheses import Condition
from hanrock_core.study.keeping import keep_trial_state
from hanrock_core.study.median_stopping import slot_of
from hanrock_core.study.partition_data import PartitionData
from hanrock_core.study.profiles import Profile
from hanrock_core.study.selection import could_be_selected

Log = Callable[[str], None]


def trial_seed(profile: Profile, slot: int) -> int:
    """The training seed of trial slot `slot`: paired across conditions, and reproducible from the results table."""
    return profile.seed * 100_003 + slot


def _l2(trial: optuna.Trial, profile: Profile) -> float:
    """L2: 0, or log-uniform in the profile's range (a range ending at 0 means no L2)."""
    low, high = profile.search_range("l2")
    if high <= 0 or trial.suggest_categorical("l2_zero", [True, False]):
        return 0.0
    return trial.suggest_float("l2_value", max(low, 1e-7), high, log=True)


def _units(trial: optuna.Trial, profile: Profile, condition: Condition) -> tuple[int, int]:
    """(P, A): a condition that fixes them (H2's) gives its own; the others draw P and give the rest of the
    capacity to A."""
    if not condition.draws_units:
        return condition.primary_units, condition.aux_units
    p = trial.suggest_categorical("primary_units", list(profile.space.get("primary_units", profile.h2_primary_units)))
    return p, profile.capacity_total - p if condition.aux_units > 0 else 0


def sample_config(trial: optuna.Trial, profile: Profile, condition: Condition) -> TrainConfig:
    """One point of the Table 6 space (narrowed by the profile); the condition fixes what it tests."""
    content = trial.suggest_int("content_size", *profile.search_range("content_size"))
    low, high = profile.search_range("batch_size")
    window = content + 1 + profile.content_after  # talkturns a sample's window holds
    batch = trial.suggest_int("batch_size", low, max(low, min(high, 1024 // window)))
    p, a = _units(trial, profile, condition)
    return TrainConfig(
        architecture=condition.architecture,
        primary_units=p,
        aux_units=a,
        capacity_total=profile.capacity_total if a > 0 else None,
        learning_rate=trial.suggest_float("learning_rate", *profile.search_range("learning_rate"), log=True),
        batch_size=batch,
        content_size=content,
        l2=_l2(trial, profile),
        dropout=trial.suggest_float("dropout", *profile.search_range("dropout")),
        recurrent_dropout=trial.suggest_float("recurrent_dropout", *profile.search_range("recurrent_dropout")),
        seed=trial_seed(profile, slot_of(trial)),
        weighting=condition.weighting,
        **profile.fixed_training(),
    )


def loss_weights_for(
    trial: optuna.Trial, profile: Profile, part: PartitionData, condition: Condition
) -> tuple[np.ndarray, str, float]:
    """Primary weight from the profile's range, the rest by this trial's scheme over switched-on tasks."""
    slot = slot_of(trial)
    scheme = SCHEMES[slot % len(SCHEMES)]  # equal numbers of trials per scheme
    primary = trial.suggest_float("primary_weight", *profile.search_range("primary_weight"))
    active = [t for t, f in part.family.items() if f in condition.families] if condition.aux_units > 0 else []
    rng = np.random.default_rng([profile.seed, slot])
    weights = assign_loss_weights(primary, scheme, part.mi, active, rng)
    return weights.to_numpy(), scheme, primary


class Objective:
    """Trains one trial; reports dev metrics per epoch to the pruner; records everything on the trial."""

    def __init__(
        self,
        part: PartitionData,
        profile: Profile,
        hypothesis: str,
        condition: Condition,
        files: TrialFiles,
        log: Log,
    ):
        self.part, self.profile, self.hypothesis, self.condition = part, profile, hypothesis, condition
        self.files, self.log = files, log
        self.metric, self.higher_better = part.data.selection

    def __call__(self, trial: optuna.Trial) -> float:
        config = sample_config(trial, self.profile, self.condition)
        weights, scheme, primary = loss_weights_for(trial, self.profile, self.part, self.condition)
        trial.set_user_attr("weight_scheme", scheme)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # which host and process ran it
        trial.set_user_attr("config", {k: v for k, v in config.__dict__.items()})
        trial.set_user_attr("loss_weights", dict(zip(["primary", *self.part.mi.index], map(float, weights))))
        history: list[dict] = []
        slot = slot_of(trial)
        tag = f"{self.hypothesis} {self.part.dataset}.{self.part.task} {self.condition.name} trial {slot}"
        started = time.perf_counter()

        pruned = False

        def on_epoch(epoch: int, record: dict) -> bool:
            nonlocal pruned
            history.append(record)
            value = record[f"dev_{self.metric}"]
            trial.report(value, epoch)
            pruned = trial.should_prune()
            self.log(f"{tag} epoch {epoch}: dev {self.metric} {value:.4f}{' -> pruned' if pruned else ''}")
            return pruned  # training stops after this epoch and returns its best epoch so far

        try:
            result = train(self.part.data, config, weights, on_epoch=on_epoch)
        except TrainingDiverged as exc:
            trial.set_user_attr("reason", str(exc))
            self._record(trial, history, started)
            self.log(f"{tag} failed: {exc}")
            raise
        except RuntimeError as exc:  # out of memory and the like: the study goes on
            trial.set_user_attr("reason", f"{type(exc).__name__}: {exc}"[:500])
            self._record(trial, history, started)
            self.log(f"{tag} failed: {exc}")
            raise
        trial.set_user_attr("stopped", "pruned" if pruned else result.stopped)
        trial.set_user_attr("weighting", result.weighting)  # final loss weights, each target's affinity
        self._record(trial, history, started)
        self._keep(trial, slot, result)
        if pruned:
            raise optuna.TrialPruned()
        return result.dev[self.metric]

    def _keep(self, trial: optuna.Trial, slot: int, result) -> None:
        """The trial's test predictions and outputs, and its chosen epoch's state while it may still be selected."""
        if result.test_predictions is not None:
            write_parquet_atomic(result.test_predictions, self.files.trial_predictions(self.condition.name, slot))
        if result.outputs is not None:
            write_parquet_atomic(result.outputs, self.files.trial_outputs(self.condition.name, slot))
        value = result.dev.get(self.metric)
        if value is not None and could_be_selected(trial.study, slot, value, self.metric, self.higher_better):
            keep_trial_state(self.files.trial_state(self.condition.name, slot), result.state_dict)

    def _record(self, trial: optuna.Trial, history: list[dict], started: float) -> None:
        """Keep the epoch curve and the best epoch's metrics on the trial (pruned trials too)."""
        trial.set_user_attr("history", history)
        trial.set_user_attr("seconds", time.perf_counter() - started)
        if history:
            key = f"dev_{self.metric}"
            scores = [h[key] for h in history]
            best = int(np.argmax(scores) if self.higher_better else np.argmin(scores))
            trial.set_user_attr("best_epoch", best + 1)
            trial.set_user_attr("dev", {k[4:]: v for k, v in history[best].items() if k.startswith("dev_")})
            trial.set_user_attr("test", {k[5:]: v for k, v in history[best].items() if k.startswith("test_")})


def run_trials(
    study: optuna.Study, objective: Objective, n: int, claim: Callable[[], AbstractContextManager] = nullcontext
) -> None:
    """Run `n` queued trials of a study here; a diverging or out-of-memory trial is recorded and the study goes on.

    `claim`: held while a queued trial is taken, so that two processes never take the same one
    (study_storage.claiming_trials).  Any other error marks the trial failed and is raised."""
    for _ in range(n):
        with claim():
            trial = study.ask()
        try:
            value = objective(trial)
        except optuna.TrialPruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        except (TrainingDiverged, RuntimeError):
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        except BaseException:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        else:
            study.tell(trial, value)


__all__ = ["Objective", "loss_weights_for", "run_trials", "sample_config", "trial_seed"]
