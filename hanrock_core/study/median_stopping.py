"""Median stopping and random sampling that give the same trials however many workers run them.

The authors stop a trial whose best dev metric so far is worse than the median of the other
trials' running averages at the same epoch (checked from epoch 5, then every 2 epochs).  Here
"the other trials" are the condition's trials in a lower slot that reached that epoch, and a
trial that is checked waits until each lower-slot trial still running (or queued) has reached the
epoch (or ended).  So trial k sees exactly what it would see if the trials ran one after another,
and a study gives the same results with one worker or several.  Each trial's hyper-parameters are
a function of the sampler seed, its slot and the parameter name only.  A trial's slot is its
`slot` user attribute (search.py queues each slot with it, and queues an interrupted slot again
as itself), else its Optuna number.
"""

from __future__ import annotations

import time
import zlib

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

WAIT_POLL_S = 0.5
STALL_LIMIT_S = 1800.0  # a lower trial that reports nothing for this long (its worker died) is not waited for


class TrialNumberSampler(optuna.samplers.BaseSampler):
    """Random search in which slot k's value of a parameter depends on (seed, k, parameter) only."""

    def __init__(self, seed: int):
        self.seed = seed

    def infer_relative_search_space(self, study, trial):
        return {}

    def sample_relative(self, study, trial, search_space):
        return {}

    def sample_independent(self, study, trial: FrozenTrial, param_name: str, param_distribution):
        seed = zlib.crc32(f"{self.seed}/{slot_of(trial)}/{param_name}".encode())
        return optuna.samplers.RandomSampler(seed=seed).sample_independent(study, trial, param_name, param_distribution)


def slot_of(trial) -> int:
    """The trial's slot: which of the condition's trials it is, whatever attempt ran it."""
    return int(trial.user_attrs.get("slot", trial.number))


def _interrupted(trial: FrozenTrial) -> bool:
    """Failed without a reason of its own: cut off by a killed run (search.py marks those)."""
    return trial.state == TrialState.FAIL and "reason" not in trial.user_attrs


class OrderedMedianPruner(optuna.pruners.BasePruner):
    """Stop trial k at a checked epoch when its best value so far is worse than the median running
    average of the lower-slot trials at that epoch (the study's direction says what is worse)."""

    def __init__(self, first_epoch: int = 5, every: int = 2, log=None):
        self.first_epoch, self.every, self.log = first_epoch, max(1, every), log

    def checked(self, step: int) -> bool:
        return step >= self.first_epoch and (step - self.first_epoch) % self.every == 0

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or not self.checked(step):
            return False
        others = self._lower_trials_at(study, slot_of(trial), step)
        if not others:
            return False
        averages = [np.mean([v for s, v in t.intermediate_values.items() if s <= step]) for t in others]
        values = [v for s, v in trial.intermediate_values.items() if s <= step]
        maximise = study.direction == optuna.study.StudyDirection.MAXIMIZE
        best = max(values) if maximise else min(values)
        median = float(np.median(averages))
        return best < median if maximise else best > median

    def _lower_trials_at(self, study: optuna.Study, slot: int, step: int) -> list[FrozenTrial]:
        """The trials in slots below `slot` that reached `step`, once each running or queued one has reached it
        or ended."""
        last_change, seen = time.monotonic(), None
        unfinished = (TrialState.RUNNING, TrialState.WAITING)
        while True:
            lower = [t for t in study.get_trials(deepcopy=False) if slot_of(t) < slot and not _interrupted(t)]
            waiting = [t for t in lower if t.state in unfinished and step not in t.intermediate_values]
            if not waiting:
                return [t for t in lower if step in t.intermediate_values]
            progress = tuple((t.number, t.last_step) for t in waiting)
            if progress != seen:
                seen, last_change = progress, time.monotonic()
            elif time.monotonic() - last_change > STALL_LIMIT_S:
                if self.log:
                    self.log(
                        f"trial {slot}: trials {[slot_of(t) for t in waiting]} made no progress for "
                        f"{STALL_LIMIT_S:.0f} s; their worker is gone, so they are not waited for"
                    )
                return [t for t in lower if step in t.intermediate_values]
            time.sleep(WAIT_POLL_S)


SAMPLER_SEED_STEP = 7919  # a profile's seed s gives the sampler seed s * 7919: profiles a seed apart share no slot


def search_policy(seed: int, median_pruning: dict, log=print) -> tuple[TrialNumberSampler, OrderedMedianPruner]:
    """The sampler and pruner of every condition's study under a profile of this seed and median pruning:
    slot k samples the same configuration and stops at the same rule whoever runs it."""
    sampler = TrialNumberSampler(seed=seed * SAMPLER_SEED_STEP)
    return sampler, OrderedMedianPruner(median_pruning.get("first_epoch", 5), median_pruning.get("every", 2), log)
