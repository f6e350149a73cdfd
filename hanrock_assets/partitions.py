"""Partitions: one per configured dataset, and one per dataset x primary task.

Task keys are written `dataset.task` (e.g. `iemocap.emotion`): datasets have different task
names, so a 2-D grid would hold invalid combinations.
"""

from __future__ import annotations

import dagster as dg

from hanrock_core.datasets import dataset_tasks
from hanrock_core.settings import load_settings

_SETTINGS = load_settings()
DATASET_NAMES = sorted(_SETTINGS.datasets)
TASK_KEYS = {name: [f"{name}.{task}" for task in dataset_tasks(_SETTINGS, name)] for name in DATASET_NAMES}

dataset_partitions = dg.StaticPartitionsDefinition(DATASET_NAMES)
task_partitions = dg.StaticPartitionsDefinition([key for name in DATASET_NAMES for key in TASK_KEYS[name]])
# a dataset's assets feed every one of its tasks
dataset_to_tasks = dg.StaticPartitionMapping(TASK_KEYS)


def split_task_key(key: str) -> tuple[str, str]:
    """`iemocap.emotion` -> ("iemocap", "emotion")."""
    dataset, task = key.split(".", 1)
    return dataset, task

