"""Raw sessions: each dataset's corpus read through its real reader into the talkturn table."""


import dagster as dg
import pandas as pd

from hanrock_core.datasets import load_dataset
from hanrock_core.talkturn import FEATURES, PARTITIONS, is_class_label, label_columns

from ..partitions import dataset_partitions
from ..resources import PlatformResource


def corpus_metadata(table: pd.DataFrame, root: str) -> dict[str, dg.MetadataValue]:
    """What a user wants to see of a corpus: size per partition, labels, feature coverage, examples."""
    per_part = table.groupby("partition", observed=True).agg(talkturns=("utterance_id", "size"), dialogues=("dialogue", "nunique"),
                                                            sessions=("session", "nunique"), speakers=("speaker", "nunique"))
    per_part = per_part.reindex([p for p in PARTITIONS if p in per_part.index])
    labels = []
    for name in label_columns(table):
        col = table[name]
        if is_class_label(col):
            counts = col.value_counts(dropna=False)
            labels.append(f"- **{name}**: " + ", ".join(f"{'none' if pd.isna(k) else k} {v}" for k, v in counts.items()))
        else:
            labels.append(f"- **{name}**: {col.notna().sum()} labelled, mean {col.mean():.3f}, sd {col.std():.3f}")
    coverage = pd.DataFrame({"feature": list(FEATURES), "coverage": [f"{table[f].notna().mean():.0%}" for f in FEATURES]})
    sample = table[["dialogue", "turn_index", "speaker", "text", "partition"] + label_columns(table)].head(5)
    return {
        "dagster/row_count": dg.MetadataValue.int(len(table)),
        "root": dg.MetadataValue.path(root),
        "dialogues": dg.MetadataValue.int(int(table["dialogue"].nunique())),
        "partitions": dg.MetadataValue.md(per_part.to_markdown() if hasattr(per_part, "to_markdown") else str(per_part)),
        "labels": dg.MetadataValue.md("\n".join(labels)),
        "feature_coverage": dg.MetadataValue.md(coverage.to_markdown(index=False)),
        "sample": dg.MetadataValue.md(sample.to_markdown(index=False)),
    }


@dg.asset(
    partitions_def=dataset_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="talkturn_io_manager",
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
    if len(context.partition_keys) == 1:
        return tables[context.partition_keys[0]]
    counts = "\n".join(f"- {k}: {len(t):,} talkturns" for k, t in tables.items())
    context.add_output_metadata({"datasets": dg.MetadataValue.md(counts)})
    return tables
