"""MONAH narratives of every talkturn: verbatim text woven with prosody and action words."""

from enum import Enum

import dagster as dg
from pydantic import Field

from hanrock_core.narrative import narrative_table

from ..metadata import narrative_metadata
from ..partitions import dataset_partitions


class NarrativeFamily(str, Enum):
    v = "v"
    vp = "vp"
    va = "va"
    vpa = "vpa"


class NarrativeConfig(dg.Config):
    family: NarrativeFamily = Field("vpa", description="v (verbatim), vp (+prosody), va (+actions) or vpa (both; the paper's)")
    keep_punctuation: str = Field("", description="punctuation kept as tokens of the model input, e.g. '?!' "
                                                  "(the paper's normalisation drops all: empty)")


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
    family = NarrativeFamily(config.family).value
    out = {}
    for key, table in tables.items():
        out[key] = narrative_table(table, family, config.keep_punctuation)
        context.log.info(f"{key}: wrote {len(out[key]):,} {family} narratives")
        if len(tables) == 1:
            context.add_output_metadata(narrative_metadata(out[key], family))
    return out if len(out) > 1 else next(iter(out.values()))
