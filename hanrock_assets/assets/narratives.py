"""MONAH narratives of every talkturn: verbatim text woven with prosody and action words."""

import dagster as dg

from .. import descriptions, names, steps
from ..partitions import dataset_partitions
from ..resources import NarrativeResource, PlatformResource


@dg.asset(
    partitions_def=dataset_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="table_io_manager",
    group_name="narratives",
    kinds={"pandas", "parquet"},
    description=descriptions.with_partition_links(
        descriptions.MONAH_NARRATIVES, names.MONAH_NARRATIVES, dataset_partitions.get_partition_keys()
    ),
)
def monah_narratives(
    context: dg.AssetExecutionContext, platform: PlatformResource, narratives: NarrativeResource, raw_sessions
):
    """Per talkturn: verbatim text, MONAH narrative and the normalised model input (the dataset's narrative
    recipe: `narratives:` under it in hanrock.yaml, or the run's `narratives` resource)."""
    tables = raw_sessions if isinstance(raw_sessions, dict) else {context.partition_keys[0]: raw_sessions}
    settings = platform.settings()
    results = {
        key: steps.monah_narratives(settings, table, key, narratives, context.log) for key, table in tables.items()
    }
    return steps.asset_output(context, results)
