"""Partitions: one per configured dataset (iemocap, semaine, plus bring-your-own datasets)."""

from __future__ import annotations

import dagster as dg

from hanrock_core.settings import load_settings

DATASET_NAMES = sorted(load_settings().datasets)
dataset_partitions = dg.StaticPartitionsDefinition(DATASET_NAMES)
ALL_DATASETS_TAGS = {
    "dagster/asset_partition_range_start": DATASET_NAMES[0],
    "dagster/asset_partition_range_end": DATASET_NAMES[-1],
}
