"""A partition's data built link by link: the chain the study assets run, declared once.

raw sessions -> narratives (narrative.narrative_table) -> auxiliary targets and their MI
(`partition_targets`) -> the partition (`partition_from_tables`).  The Dagster steps call each link
for their own asset (hanrock_assets/steps.py); `load_partition` runs the whole chain for the commands
that work without Dagster (`hanrock calibrate`, `hanrock ablate`), so they train on exactly what a study
trains on.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from hanrock_core.preparation.auxiliary_target import (
    AuxiliarySpec,
    AuxiliaryTargets,
    available_families,
    build_auxiliary_targets,
)
from hanrock_core.preparation.datasets import dataset_metrics, load_dataset
from hanrock_core.preparation.mi_loss_weights import mutual_information
from hanrock_core.preparation.narrative import NarrativeRecipe, narrative_table, recipe_of
from hanrock_core.study.partition_data import PartitionData

Log = Callable[[str], None]
MI_SEED = 0  # the seed of scikit-learn's MI estimate where a run config does not set one (`mi_seed`)


def partition_targets(
    raw: pd.DataFrame, task: str, spec: AuxiliarySpec = AuxiliarySpec(), mi_seed: int = MI_SEED
) -> tuple[AuxiliaryTargets, pd.DataFrame, list[str]]:
    """The auxiliary targets of one dataset.task (families without data left out), their MI with the
    primary task, and the families left out."""
    usable, empty = available_families(raw, spec)
    targets = build_auxiliary_targets(raw, task, AuxiliarySpec(tuple(usable), spec.extra))
    return targets, mutual_information(targets, seed=mi_seed), list(empty)


def partition_from_tables(
    dataset: str,
    task: str,
    raw: pd.DataFrame,
    narratives: pd.DataFrame,
    targets: AuxiliaryTargets,
    mi: pd.DataFrame,
    metric: str | None,
    min_count: int = 1,
) -> PartitionData:
    """The partition of one dataset.task from its raw sessions, narratives (their recipe read from the
    table: InputError when it is missing), targets and MI."""
    return PartitionData.build(
        dataset,
        task,
        raw,
        narratives.set_index("utterance_id")["model_input"],
        targets,
        mi,
        metric,
        narrative=recipe_of(narratives),
        min_count=min_count,
    )


def load_partition(
    settings,
    dataset: str,
    task: str,
    log: Log = print,
    recipe: NarrativeRecipe | None = None,
    min_count: int = 1,
) -> PartitionData:
    """A dataset.task's partition from its settings (`recipe` and `min_count` replace the settings'
    narrative recipe and the vocabulary's minimum train count: an ablation's changes)."""
    raw, _ = load_dataset(settings, dataset, log=log)
    narratives = narrative_table(raw, recipe or settings.dataset(dataset).narratives)
    targets, mi, _ = partition_targets(raw, task)
    metric = dataset_metrics(settings, dataset)[task]
    return partition_from_tables(dataset, task, raw, narratives, targets, mi, metric, min_count)


__all__ = ["MI_SEED", "load_partition", "partition_from_tables", "partition_targets"]
