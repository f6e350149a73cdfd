"""Auxiliary targets and their mutual information with the primary task, per dataset x task."""

from enum import Enum
from pathlib import Path

import dagster as dg
from pydantic import Field

from hanrock_core.auxiliary_target import (
    FAMILIES,
    AuxiliarySpec,
    available_families,
    build_auxiliary_targets,
)
from hanrock_core.loss_weight import mutual_information
from hanrock_core.results import write_mutual_information

from ..metadata import auxiliary_metadata
from ..partitions import dataset_to_tasks, split_task_key, task_partitions
from ..resources import PlatformResource


class Family(str, Enum):
    """The paper's auxiliary families (an enum, so Dagster rejects a typo before the run starts)."""

    actions = "actions"
    prosody = "prosody"
    historical = "historical"
    future = "future"


class AuxiliaryConfig(dg.Config):
    families: list[Family] = Field(list(FAMILIES),
                                   description="auxiliary families to build: actions, prosody, historical, future")
    extra: dict[str, list[str]] = Field({}, description="your own families: name -> numeric talkturn-table columns")
    mi_seed: int = Field(0, description="seed of scikit-learn's mutual information estimate")


def prepare_auxiliary(table, key: str, config: AuxiliaryConfig, results_db, log):
    """Targets, MI (also written to DuckDB) and metadata of one dataset.task.

    Families without any data in this dataset are left out, with a warning in the log.
    """
    dataset, task = split_task_key(key)
    families = tuple(Family(f).value for f in config.families)
    spec = AuxiliarySpec(families, {k: tuple(v) for k, v in config.extra.items()})
    usable, empty = available_families(table, spec)
    if empty:
        log.warning(f"no data for auxiliary families {empty} in this dataset: training goes on with {usable}")
    targets = build_auxiliary_targets(table, task, AuxiliarySpec(tuple(usable), spec.extra))
    mi = mutual_information(targets, seed=config.mi_seed)
    write_mutual_information(results_db, dataset, task, mi, log.info)
    log.info(f"{key}: {len(targets.tasks)} auxiliary targets; top MI "
             + ", ".join(f"{r.task} {r.mi:.3f}" for r in mi.head(3).itertuples()))
    return targets, mi, auxiliary_metadata(targets, mi, empty, Path(results_db).parent, key)


@dg.multi_asset(
    outs={
        "auxiliary_targets": dg.AssetOut(io_manager_key="table_io_manager", kinds={"pandas", "parquet"},
                                         description="Per talkturn: the primary label and every auxiliary target, scaled (A.2)"),
        "mutual_information": dg.AssetOut(io_manager_key="table_io_manager", kinds={"pandas", "parquet"},
                                          description="MI of each auxiliary target with the primary target (train partition)"),
    },
    ins={"raw_sessions": dg.AssetIn(partition_mapping=dataset_to_tasks)},
    partitions_def=task_partitions,
    group_name="auxiliary_targets",
)
def auxiliary_targets(context: dg.AssetExecutionContext, config: AuxiliaryConfig, platform: PlatformResource, raw_sessions):
    """Percentile-ranked actions/prosody and neighbouring labels for one dataset.task partition."""
    results_db = platform.settings().home / "results.duckdb"
    targets, mi, meta = prepare_auxiliary(raw_sessions, context.partition_key, config, results_db, context.log)
    yield dg.Output(targets.table, output_name="auxiliary_targets", metadata=meta)
    yield dg.Output(mi, output_name="mutual_information", metadata={"mi_ranking": meta["mi_ranking"]})
