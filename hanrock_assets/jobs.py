"""Jobs a user runs from the command line or the UI: a whole study in one command.

Each job fans out over every configured dataset (talkturn table, narratives), then over every
dataset x task (auxiliary targets, MI, and for the study jobs the search of each hypothesis),
as parallel steps under the multiprocess executor, and ends with the significance tables.  Every
op calls the same step body as its asset (`steps.py`) and records the asset's materialisation
(`op_events.py`), so the catalog shows what a job produced.  No partition key is needed: the
fan-out covers every partition.
"""

import re

import dagster as dg

from hanrock_core.study.hypotheses import HYPOTHESES

from . import names, steps
from .executors import TRAINING_STEP_TAGS
from .op_events import record
from .resources import NarrativeResource, PlatformResource, StudyResource
from .run_config import AuxiliaryConfig, DatasetSelection, TaskSelection


def _mapping_key(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", key)


@dg.op(out=dg.DynamicOut(str))
def each_dataset(config: DatasetSelection, platform: PlatformResource):
    """One branch per configured dataset (or per dataset the run config names)."""
    for name in steps.selected_datasets(platform.settings(), config.datasets):
        yield dg.DynamicOutput(name, mapping_key=_mapping_key(name))


@dg.op
def prepare_dataset(
    context: dg.OpExecutionContext, platform: PlatformResource, narratives: NarrativeResource, dataset: str
) -> str:
    """raw_sessions and monah_narratives of one dataset."""
    settings = platform.settings()
    raw = steps.raw_sessions(settings, dataset, context.log)
    record(context, settings, names.RAW_SESSIONS, dataset, raw)
    record(
        context,
        settings,
        names.MONAH_NARRATIVES,
        dataset,
        steps.monah_narratives(settings, raw.table, dataset, narratives, context.log),
    )
    return dataset


@dg.op(out=dg.DynamicOut(str))
def each_task(config: TaskSelection, platform: PlatformResource, datasets: list[str]):
    """One branch per dataset x primary task (or per one the run config names), once its dataset is prepared."""
    for key in steps.selected_tasks(steps.task_keys(platform.settings(), datasets), config.tasks):
        yield dg.DynamicOutput(key, mapping_key=_mapping_key(key))


@dg.op
def prepare_task(context: dg.OpExecutionContext, platform: PlatformResource, config: AuxiliaryConfig, key: str) -> str:
    """auxiliary_targets and mutual_information of one dataset.task."""
    settings = platform.settings()
    raw = steps.stored(settings, names.RAW_SESSIONS, steps.split_task_key(key)[0])
    targets, mi = steps.auxiliary_targets(settings, raw, key, config, context.log)
    record(context, settings, names.AUXILIARY_TARGETS, key, targets)
    record(context, settings, names.MUTUAL_INFORMATION, key, mi)
    return key


@dg.op
def report(context: dg.OpExecutionContext, keys: list[str]) -> None:
    """One line per dataset.task the run prepared."""
    context.log.info(f"prepared {len(keys)} dataset x task partitions: {', '.join(sorted(keys))}")


def train_op(hypothesis: str) -> dg.OpDefinition:
    @dg.op(name=f"train_{hypothesis}", tags=TRAINING_STEP_TAGS)
    def train(context: dg.OpExecutionContext, platform: PlatformResource, study: StudyResource, key: str) -> str:
        """Random search over every condition of the hypothesis on one dataset.task, and its kept models."""
        settings = platform.settings()
        result = steps.trials(
            settings, study, hypothesis, key, steps.task_inputs(settings, key), context.log, context.run_id
        )
        record(context, settings, names.trials(hypothesis), key, result)
        record(
            context,
            settings,
            names.models(hypothesis),
            key,
            steps.models(settings, hypothesis, key, result.table, context.log),
        )
        return key

    return train


def significance_op(hypothesis: str) -> dg.OpDefinition:
    @dg.op(name=f"significance_{hypothesis}")
    def significance(
        context: dg.OpExecutionContext, platform: PlatformResource, study: StudyResource, keys: list[str]
    ) -> None:
        """The blocking completeness check over this run's partitions, then the bootstrap table and the paper's view."""
        settings = platform.settings()
        record(
            context,
            settings,
            names.significance(hypothesis),
            None,
            steps.significance(settings, study, hypothesis, keys, context.log),
        )

    return significance


# one op definition per hypothesis, shared by every job that runs it (names are unique in a repository)
TRAIN_OPS = {h: train_op(h) for h in HYPOTHESES}
SIGNIFICANCE_OPS = {h: significance_op(h) for h in HYPOTHESES}


def study_job(
    name: str, hypotheses: tuple[str, ...], description: str, executor: dg.ExecutorDefinition | None = None
) -> dg.JobDefinition:
    """Prepare every partition, search every hypothesis on each, then the significance tables."""
    trains = {h: TRAIN_OPS[h] for h in hypotheses}
    significances = {h: SIGNIFICANCE_OPS[h] for h in hypotheses}

    @dg.job(
        name=name,
        description=description,
        tags={"hanrock/study": ",".join(hypotheses)},
        executor_def=executor,  # None: the Definitions' executor, chosen by the deployment
    )
    def job():
        datasets = each_dataset().map(prepare_dataset)
        keys = each_task(datasets.collect()).map(prepare_task)
        for h in hypotheses:
            significances[h](keys.map(trains[h]).collect())

    return job


@dg.job(
    description="Every dataset: talkturn table, MONAH narratives, auxiliary targets and MI (parallel steps).",
)
def main_job():
    datasets = each_dataset().map(prepare_dataset)
    keys = each_task(datasets.collect()).map(prepare_task)
    report(keys.collect())


h1_study = study_job(
    "h1_study", ("h1",), "H1: auxiliary families none / ap / aphf on every dataset x task, then Table 1"
)
h2_study = study_job("h2_study", ("h2",), "H2: capacity split P / A on every dataset x task, then Table 2")
h3_study = study_job("h3_study", ("h3",), "H3: flat-MTL HAN against HAN-ROCK on every dataset x task, then Table 3")
h4_study = study_job(
    "h4_study",
    ("h4",),
    "H4: the paper's fixed loss weights against learned weightings and auto-selected targets on every dataset x "
    "task, then the H4 table",
)
paper_study = study_job("paper_study", ("h1", "h2", "h3"), "H1, H2 and H3 on every dataset x task, then Tables 1-4")
