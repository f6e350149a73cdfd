"""MONAH narratives of every talkturn: verbatim text woven with prosody and action words."""

import dagster as dg

from .. import steps
from ..partitions import dataset_partitions
from ..run_config import NarrativeConfig


@dg.asset(
    partitions_def=dataset_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="table_io_manager",
    group_name="narratives",
    kinds={"pandas", "parquet"},
)
def monah_narratives(context: dg.AssetExecutionContext, config: NarrativeConfig, raw_sessions):
    """Per talkturn: verbatim text, MONAH narrative and the normalised model input."""
    tables = raw_sessions if isinstance(raw_sessions, dict) else {context.partition_keys[0]: raw_sessions}
    results = {key: steps.monah_narratives(table, key, config, context.log) for key, table in tables.items()}
    return steps.asset_output(context, results)
