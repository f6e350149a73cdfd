"""Partitions: one per configured dataset, and one per dataset x primary task.

Task keys are written `dataset.task` (e.g. `iemocap.emotion`): datasets have different task
names, so a 2-D grid would hold invalid combinations.  The keys come from the settings in force
when the code location loads (`platform_settings()`, the same object the resources read).  A dataset
whose settings entry or spec is
broken keeps its dataset partition (its steps fail with the spec's file and line) and has no task
partitions until it is fixed; the other datasets are unaffected.
"""

from __future__ import annotations

import logging

import dagster as dg

from hanrock_core.base.errors import InputError
from hanrock_core.preparation.datasets import dataset_tasks

from .resources import platform_settings


class NamedPartitions(dg.StaticPartitionsDefinition):
    """Static partitions whose unknown-key error lists the valid keys."""

    def __init__(self, keys: list[str], what: str):
        super().__init__(keys)
        self._what = what

    def validate_partition_key(self, partition_key: str, context) -> None:
        if not self.has_partition_key(partition_key):
            from dagster._core.errors import DagsterUnknownPartitionError

            raise DagsterUnknownPartitionError(
                f"there is no {self._what} partition {partition_key!r}; valid keys: "
                f"{', '.join(self.get_partition_keys())}"
                " (declare your own dataset under `datasets:` in hanrock.yaml; `hanrock config` checks it)"
            )


def _task_keys(settings) -> tuple[dict[str, list[str]], dict[str, InputError]]:
    """dataset -> its `dataset.task` keys, and the datasets whose configuration is broken."""
    keys, broken = {}, {}
    for name in sorted(settings.datasets):
        try:
            keys[name] = [f"{name}.{task}" for task in dataset_tasks(settings, name)]
        except InputError as exc:
            keys[name], broken[name] = [], exc
            logging.getLogger("hanrock").warning(f"dataset {name!r} is misconfigured and has no task partitions: {exc}")
    return keys, broken


_SETTINGS = platform_settings()
DATASET_NAMES = sorted(_SETTINGS.datasets)
TASK_KEYS, BROKEN_DATASETS = _task_keys(_SETTINGS)

dataset_partitions = NamedPartitions(DATASET_NAMES, "dataset")
task_partitions = NamedPartitions([key for name in DATASET_NAMES for key in TASK_KEYS[name]], "dataset.task")
# a dataset's assets feed every one of its tasks
dataset_to_tasks = dg.StaticPartitionMapping({name: keys for name, keys in TASK_KEYS.items() if keys})
