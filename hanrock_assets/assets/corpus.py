"""Raw sessions: each dataset's corpus read through its real reader into the talkturn table."""

from pathlib import Path

import dagster as dg
import pandas as pd

from hanrock_core.datasets import load_dataset
from hanrock_core.errors import InputError
from hanrock_core.notices import WARNING, Notices
from hanrock_core.settings import Settings

from ..metadata import corpus_metadata
from ..partitions import dataset_partitions
from ..resources import PlatformResource


def read_dataset(context, settings: Settings, name: str) -> tuple[pd.DataFrame, Path, Notices]:
    """Read one dataset for a step: notices go to the step's log, bad input fails the step with its file and line."""
    notices = Notices()
    try:
        table, root = load_dataset(settings, name, log=context.log.info, notices=notices)
    except InputError as exc:
        raise dg.Failure(description=f"{name}: {exc}", metadata={"error": dg.MetadataValue.text(str(exc))}) from None
    finally:
        for notice in notices.items:
            (context.log.warning if notice.level == WARNING else context.log.info)(f"{name}: {notice.render()}")
    return table, root, notices


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
    What the reader left out (skipped sessions, unlabelled talkturns) is logged and listed in the metadata.
    """
    settings = platform.settings()
    tables = {}
    for key in context.partition_keys:
        table, root, notices = read_dataset(context, settings, key)
        tables[key] = table
        context.log.info(f"{key}: {len(table):,} talkturns in {table['dialogue'].nunique():,} dialogues")
        if len(context.partition_keys) == 1:
            context.add_output_metadata(corpus_metadata(table, str(root), notices))
    if len(tables) == 1:
        return next(iter(tables.values()))
    context.add_output_metadata({"datasets": dg.MetadataValue.md("\n".join(f"- {k}: {len(t):,} talkturns" for k, t in tables.items()))})
    return tables
