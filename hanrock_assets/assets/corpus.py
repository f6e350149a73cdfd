"""Raw sessions: each dataset's corpus read through its real reader into the talkturn table."""

import dagster as dg

from .. import descriptions, names, steps
from ..partitions import dataset_partitions
from ..resources import PlatformResource


@dg.asset(
    partitions_def=dataset_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="table_io_manager",
    group_name="corpus",
    kinds={"pandas", "parquet"},
    description=descriptions.with_partition_links(
        descriptions.RAW_SESSIONS, names.RAW_SESSIONS, dataset_partitions.get_partition_keys()
    ),
)
def raw_sessions(context: dg.AssetExecutionContext, platform: PlatformResource):
    """The talkturn table of a dataset, read from its raw layout (or the embedded synthetic corpus).

    Returns one DataFrame for a one-partition run, a dict partition -> DataFrame for a range.
    What the reader left out (skipped sessions, unlabelled talkturns) is logged and listed in the metadata.
    """
    results = {key: steps.raw_sessions(platform.settings(), key, context.log) for key in context.partition_keys}
    return steps.asset_output(context, results)
