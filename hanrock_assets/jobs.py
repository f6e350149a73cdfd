"""Jobs a user runs from the command line or the UI.

`main_job` fans out over every configured dataset and then over every dataset x task, with
parallel steps under the multiprocess executor.  Its ops call the same core functions as the
assets, write the same files and record materialisations of the same asset keys, so the asset
catalog shows what the job produced.
"""


import re

import dagster as dg

from hanrock_core.datasets import dataset_tasks, load_dataset
from hanrock_core.narrative import narrative_table, phrase_counts

from .assets.auxiliary import AuxiliaryConfig, build_for_task
from .assets.narratives import NarrativeConfig
from .metadata import auxiliary_metadata, corpus_metadata, narrative_metadata
from .partitions import split_task_key
from .resources import PlatformResource
from .storage import read_table, write_table


def _mapping_key(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", key)


def _record(context: dg.OpExecutionContext, asset: str, partition: str, path, metadata: dict) -> None:
    metadata = {**metadata, "path": dg.MetadataValue.path(str(path))}
    context.log_event(dg.AssetMaterialization(asset_key=asset, partition=partition, metadata=metadata))


@dg.op(out=dg.DynamicOut(str))
def each_dataset(platform: PlatformResource):
    """One branch per configured dataset."""
    for name in sorted(platform.settings().datasets):
        yield dg.DynamicOutput(name, mapping_key=_mapping_key(name))


@dg.op
def prepare_dataset(context: dg.OpExecutionContext, platform: PlatformResource, config: NarrativeConfig, dataset: str) -> str:
    """raw_sessions and monah_narratives of one dataset."""
    settings = platform.settings()
    base = settings.home / "assets"
    table, root = load_dataset(settings, dataset, log=context.log.info)
    _record(context, "raw_sessions", dataset, write_table(base, "raw_sessions", dataset, table), corpus_metadata(table, str(root)))
    narratives = narrative_table(table, config.family)
    path = write_table(base, "monah_narratives", dataset, narratives)
    _record(context, "monah_narratives", dataset, path,
            narrative_metadata(narratives, phrase_counts(narratives["narrative"]), config.family))
    context.log.info(f"{dataset}: {len(table):,} talkturns read, narratives written")
    return dataset


@dg.op(out=dg.DynamicOut(str))
def each_task(platform: PlatformResource, datasets: list[str]):
    """One branch per dataset x primary task, once its dataset is prepared."""
    settings = platform.settings()
    for dataset in sorted(datasets):
        for task in dataset_tasks(settings, dataset):
            key = f"{dataset}.{task}"
            yield dg.DynamicOutput(key, mapping_key=_mapping_key(key))


@dg.op
def prepare_task(context: dg.OpExecutionContext, platform: PlatformResource, config: AuxiliaryConfig, key: str) -> str:
    """auxiliary_targets and mutual_information of one dataset.task."""
    base = platform.settings().home / "assets"
    dataset, task = split_task_key(key)
    table = read_table(base, "raw_sessions", dataset)
    targets, mi, empty = build_for_task(table, task, config, context.log.warning)
    meta = auxiliary_metadata(targets, mi, empty)
    _record(context, "auxiliary_targets", key, write_table(base, "auxiliary_targets", key, targets.table), meta)
    _record(context, "mutual_information", key, write_table(base, "mutual_information", key, mi),
            {"mi_ranking": meta["mi_ranking"]})
    context.log.info(f"{key}: {len(targets.tasks)} auxiliary targets; top MI "
                     + ", ".join(f"{r.task} {r.mi:.3f}" for r in mi.head(3).itertuples()))
    return key


@dg.op
def report(context: dg.OpExecutionContext, keys: list[str]) -> None:
    """One line per dataset.task the run prepared."""
    context.log.info(f"prepared {len(keys)} dataset x task partitions: {', '.join(sorted(keys))}")


@dg.job(description="Every dataset: talkturn table, MONAH narratives, auxiliary targets and MI (parallel steps).")
def main_job():
    datasets = each_dataset().map(prepare_dataset)
    keys = each_task(datasets.collect()).map(prepare_task)
    report(keys.collect())
