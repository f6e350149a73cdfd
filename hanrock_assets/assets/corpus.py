"""Raw sessions: each dataset's corpus read through its real reader into the talkturn table."""

import dagster as dg

from hanrock_core.datasets import load_dataset

from ..metadata import corpus_metadata
from ..partitions import dataset_partitions
from ..resources import PlatformResource


@dg.asset(
    partitions_def=dataset_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="table_io_manager",
    group_name="corpus",
    kinds={"pandas", "parquet"},
)
def raw_sessions(context: dg.AssetExecutionContext, platform: PlatformResource):
    """The talkturn table of a dataset, read from its raw layout (or the embedded synthetic corpus).

    Returns one DataFrame for a one-partition run, a dict partition -> DataFrame for a range.
    """
    settings = platform.settings()
    tables = {}
    for key in context.partition_keys:
        table, root = load_dataset(settings, key, log=context.log.info)
        tables[key] = table
        context.log.info(f"{key}: {len(table):,} talkturns in {table['dialogue'].nunique():,} dialogues")
        if len(context.partition_keys) == 1:
            context.add_output_metadata(corpus_metadata(table, str(root)))
    if len(tables) == 1:
        return next(iter(tables.values()))
    context.add_output_metadata({"datasets": dg.MetadataValue.md("\n".join(f"- {k}: {len(t):,} talkturns" for k, t in tables.items()))})
    return tables
