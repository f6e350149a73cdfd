"""Jobs a user runs from the command line or the UI.

Each job fans out over every configured dataset (talkturn table, narratives), then over every
dataset x task (auxiliary targets, MI, and for the study jobs the search of each hypothesis),
as parallel steps under the multiprocess executor, and ends with the significance tables.  Its
ops call the same functions as the assets, write the same files and rows, and record
materialisations of the same asset keys, so the asset catalog shows what a job produced.
No partition key is needed: the fan-out covers every partition.
"""

import re

import dagster as dg
from pydantic import Field

from hanrock_core.datasets import dataset_tasks
from hanrock_core.narrative import narrative_table
from hanrock_core.study import TABLE_VIEWS

from .assets.auxiliary import AuxiliaryConfig, prepare_auxiliary
from .assets.corpus import read_dataset
from .assets.narratives import NarrativeConfig, NarrativeFamily
from .assets.studies import (
    StudyResource,
    check_metadata,
    completeness,
    incomplete,
    significance_metadata,
    train_partition,
    trials_metadata,
)
from .executors import TRAINING_STEP_TAGS, executor_from_env
from .metadata import corpus_metadata, narrative_metadata
from .partitions import split_task_key
from .resources import PlatformResource
from .storage import read_table, write_table


def _mapping_key(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", key)


def _record(context: dg.OpExecutionContext, asset: str, partition: str | None, path, metadata: dict) -> None:
    metadata = {**metadata, "path": dg.MetadataValue.path(str(path))} if path else metadata
    context.log_event(dg.AssetMaterialization(asset_key=asset, partition=partition, metadata=metadata))


class DatasetSelection(dg.Config):
    datasets: list[str] = Field([], description="datasets this run covers (empty: every configured dataset)")


@dg.op(out=dg.DynamicOut(str))
def each_dataset(config: DatasetSelection, platform: PlatformResource):
    """One branch per configured dataset (or per dataset the run config names)."""
    configured = sorted(platform.settings().datasets)
    unknown = sorted(set(config.datasets) - set(configured))
    if unknown:
        raise dg.Failure(description=f"run config names datasets {unknown} that are not configured; configured: "
                                     f"{configured} (declare your own under `datasets:` in hanrock.yaml)")
    for name in sorted(config.datasets) or configured:
        yield dg.DynamicOutput(name, mapping_key=_mapping_key(name))


@dg.op
def prepare_dataset(context: dg.OpExecutionContext, platform: PlatformResource, config: NarrativeConfig, dataset: str) -> str:
    """raw_sessions and monah_narratives of one dataset."""
    settings = platform.settings()
    base = settings.home / "assets"
    table, root, notices = read_dataset(context, settings, dataset)
    _record(context, "raw_sessions", dataset, write_table(base, "raw_sessions", dataset, table),
            corpus_metadata(table, str(root), notices))
    family = NarrativeFamily(config.family).value
    narratives = narrative_table(table, family, config.keep_punctuation)
    path = write_table(base, "monah_narratives", dataset, narratives)
    _record(context, "monah_narratives", dataset, path, narrative_metadata(narratives, family))
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
    """auxiliary_targets and mutual_information of one dataset.task (MI rows go to DuckDB too)."""
    settings = platform.settings()
    base = settings.home / "assets"
    dataset, _ = split_task_key(key)
    table = read_table(base, "raw_sessions", dataset)
    targets, mi, meta = prepare_auxiliary(table, key, config, settings.home / "results.duckdb", context.log)
    _record(context, "auxiliary_targets", key, write_table(base, "auxiliary_targets", key, targets.table), meta)
    _record(context, "mutual_information", key, write_table(base, "mutual_information", key, mi),
            {"mi_ranking": meta["mi_ranking"]})
    return key


@dg.op
def report(context: dg.OpExecutionContext, keys: list[str]) -> None:
    """One line per dataset.task the run prepared."""
    context.log.info(f"prepared {len(keys)} dataset x task partitions: {', '.join(sorted(keys))}")


def train_op(hypothesis: str) -> dg.OpDefinition:
    @dg.op(name=f"train_{hypothesis}", tags=TRAINING_STEP_TAGS)
    def train(context: dg.OpExecutionContext, platform: PlatformResource, study: StudyResource, key: str) -> str:
        """Random search over every condition of the hypothesis on one dataset.task."""
        trials, part = train_partition(platform, study, hypothesis, key, context.log.info)
        results_db = platform.settings().home / "results.duckdb"
        write_table(platform.settings().home / "assets", f"{hypothesis}_trials", key, trials)
        _record(context, f"{hypothesis}_trials", key, None, trials_metadata(trials, results_db, hypothesis, key, part))
        return key

    return train


def significance_op(hypothesis: str) -> dg.OpDefinition:
    @dg.op(name=f"significance_{hypothesis}")
    def significance(context: dg.OpExecutionContext, platform: PlatformResource, study: StudyResource, keys: list[str]) -> None:
        """The blocking completeness check over this run's partitions, then the bootstrap table and the paper's view."""
        results_db = platform.settings().home / "results.duckdb"
        profile = study.load()
        problems = completeness(results_db, hypothesis, profile, keys)
        context.log_event(dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(f"{hypothesis}_significance"), check_name="all_partitions_trained", passed=not problems,
            metadata=check_metadata(problems)))
        if problems:
            raise incomplete(hypothesis, problems)
        metadata, shown = significance_metadata(results_db, hypothesis, profile, context.log.info)
        context.log.info(f"{TABLE_VIEWS[hypothesis]}:\n{shown.to_string(index=False)}")
        _record(context, f"{hypothesis}_significance", None, None, metadata)

    return significance


# one op definition per hypothesis, shared by every job that runs it (names are unique in a repository)
TRAIN_OPS = {h: train_op(h) for h in ("h1", "h2", "h3")}
SIGNIFICANCE_OPS = {h: significance_op(h) for h in ("h1", "h2", "h3")}


def study_job(name: str, hypotheses: tuple[str, ...], description: str,
              executor: dg.ExecutorDefinition | None = None) -> dg.JobDefinition:
    """Prepare every partition, search every hypothesis on each, then the significance tables."""
    trains = {h: TRAIN_OPS[h] for h in hypotheses}
    significances = {h: SIGNIFICANCE_OPS[h] for h in hypotheses}

    @dg.job(name=name, description=description, tags={"hanrock/study": ",".join(hypotheses)},
            executor_def=executor or executor_from_env())
    def job():
        datasets = each_dataset().map(prepare_dataset)
        keys = each_task(datasets.collect()).map(prepare_task)
        for h in hypotheses:
            significances[h](keys.map(trains[h]).collect())

    return job


@dg.job(description="Every dataset: talkturn table, MONAH narratives, auxiliary targets and MI (parallel steps).",
        executor_def=executor_from_env())
def main_job():
    datasets = each_dataset().map(prepare_dataset)
    keys = each_task(datasets.collect()).map(prepare_task)
    report(keys.collect())


h1_study = study_job("h1_study", ("h1",), "H1: auxiliary families none / ap / aphf on every dataset x task, then Table 1")
h2_study = study_job("h2_study", ("h2",), "H2: capacity split P / A on every dataset x task, then Table 2")
h3_study = study_job("h3_study", ("h3",), "H3: flat-MTL HAN against HAN-ROCK on every dataset x task, then Table 3")
paper_study = study_job("paper_study", ("h1", "h2", "h3"), "H1, H2 and H3 on every dataset x task, then Tables 1-4")
