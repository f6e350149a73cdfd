"""Auxiliary targets and their mutual information with the primary task, per dataset x task."""

import dagster as dg

from .. import descriptions, names, steps
from ..partitions import dataset_to_tasks, task_partitions
from ..resources import PlatformResource
from ..run_config import AuxiliaryConfig


@dg.multi_asset(
    outs={
        names.AUXILIARY_TARGETS: dg.AssetOut(
            io_manager_key="table_io_manager",
            kinds={"pandas", "parquet"},
            description=descriptions.with_partition_links(
                descriptions.AUXILIARY_TARGETS, names.AUXILIARY_TARGETS, task_partitions.get_partition_keys()
            ),
        ),
        names.MUTUAL_INFORMATION: dg.AssetOut(
            io_manager_key="table_io_manager",
            kinds={"pandas", "parquet"},
            description=descriptions.with_partition_links(
                descriptions.MUTUAL_INFORMATION, names.MUTUAL_INFORMATION, task_partitions.get_partition_keys()
            ),
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
