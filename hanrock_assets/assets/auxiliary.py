"""Auxiliary targets and their mutual information with the primary task, per dataset x task."""

import dagster as dg

from .. import descriptions, steps
from ..partitions import dataset_to_tasks, task_partitions
from ..resources import PlatformResource
from ..run_config import AuxiliaryConfig


@dg.multi_asset(
    outs={
        "auxiliary_targets": dg.AssetOut(
            io_manager_key="table_io_manager",
            kinds={"pandas", "parquet"},
            description=descriptions.AUXILIARY_TARGETS,
        ),
        "mutual_information": dg.AssetOut(
            io_manager_key="table_io_manager",
            kinds={"pandas", "parquet"},
            description=descriptions.MUTUAL_INFORMATION,
        ),
    },
    ins={"raw_sessions": dg.AssetIn(partition_mapping=dataset_to_tasks)},
    partitions_def=task_partitions,
    group_name="auxiliary_targets",
)
def auxiliary_targets(
    context: dg.AssetExecutionContext, config: AuxiliaryConfig, platform: PlatformResource, raw_sessions
):
    """Percentile-ranked actions/prosody and neighbouring labels for one dataset.task partition."""
    targets, mi = steps.auxiliary_targets(platform.settings(), raw_sessions, context.partition_key, config, context.log)
    yield dg.Output(targets.table, output_name="auxiliary_targets", metadata=targets.metadata)
    yield dg.Output(mi.table, output_name="mutual_information", metadata=mi.metadata)
