"""Trained models per hypothesis (partitioned by dataset x task) and their significance tables."""

import dagster as dg

from .. import descriptions, names, steps
from ..executors import TRAINING_STEP_TAGS
from ..partitions import dataset_to_tasks, task_partitions
from ..resources import PlatformResource, StudyResource

# the inputs of a training step: the dataset's tables map onto every one of its tasks
TASK_INS = {
    names.RAW_SESSIONS: dg.AssetIn(partition_mapping=dataset_to_tasks),
    names.MONAH_NARRATIVES: dg.AssetIn(partition_mapping=dataset_to_tasks),
    names.AUXILIARY_TARGETS: dg.AssetIn(),
    names.MUTUAL_INFORMATION: dg.AssetIn(),
}


def check_results(result: steps.StepResult):
    """The step's asset checks as Dagster check results."""
    for check in result.checks:
        yield dg.AssetCheckResult(
            check_name=check.name,
            passed=check.passed,
            metadata=check.metadata,
            severity=check.severity,
            description=check.description,
        )


def trials_asset(hypothesis: str) -> dg.AssetsDefinition:
    """`<h>_trials`: the search of every condition on one dataset.task, and its study-health check."""

    @dg.asset(
        name=names.trials(hypothesis),
        partitions_def=task_partitions,
        ins=TASK_INS,
        io_manager_key="table_io_manager",
        group_name="studies",
        kinds={"pytorch", "optuna", "duckdb"},
        op_tags=TRAINING_STEP_TAGS,
        check_specs=[
            dg.AssetCheckSpec(
                names.HEALTH_CHECK,
                asset=names.trials(hypothesis),
                blocking=False,
                description="every trial left chance level, each selected model finished learning and "
                "beats the floor on dev, dev and test agree",
            )
        ],
        description=descriptions.with_partition_links(
            descriptions.trials(hypothesis), names.trials(hypothesis), task_partitions.get_partition_keys()
        ),
    )
    def trials(
        context: dg.AssetExecutionContext,
        platform: PlatformResource,
        study: StudyResource,
        raw_sessions,
        monah_narratives,
        auxiliary_targets,
        mutual_information,
    ):
        inputs = steps.TaskInputs(raw_sessions, monah_narratives, auxiliary_targets, mutual_information)
        result = steps.trials(
            platform.settings(), study, hypothesis, context.partition_key, inputs, context.log, context.run_id
        )
        yield dg.Output(result.table, metadata=result.metadata)
        yield from check_results(result)

    return trials


def models_asset(hypothesis: str) -> dg.AssetsDefinition:
    """`<h>_models`: the kept model of every condition on one dataset.task, checked against its sums."""

    @dg.asset(
        name=names.models(hypothesis),
        partitions_def=task_partitions,
        ins={"trials": dg.AssetIn(names.trials(hypothesis))},
        group_name="studies",
        kinds={"pytorch"},
        description=descriptions.with_partition_links(
            descriptions.models(hypothesis), names.models(hypothesis), task_partitions.get_partition_keys()
        ),
    )
    def models(context: dg.AssetExecutionContext, platform: PlatformResource, trials) -> dg.MaterializeResult:
        result = steps.models(platform.settings(), hypothesis, context.partition_key, trials, context.log)
        return dg.MaterializeResult(metadata=result.metadata)

    return models


def significance_asset(hypothesis: str, trials: dg.AssetsDefinition) -> dg.AssetsDefinition:
    """`<h>_significance`: the bootstrap table over every partition, behind a blocking completeness check."""

    @dg.asset(
        name=names.significance(hypothesis),
        deps=[trials],
        group_name="studies",
        kinds={"duckdb"},
        check_specs=[
            dg.AssetCheckSpec(
                names.SIGNIFICANCE_CHECK,
                asset=names.significance(hypothesis),
                blocking=True,
                description="every dataset.task and condition has >= 2 finished trials",
            ),
            dg.AssetCheckSpec(
                names.DECIDED_CHECK,
                asset=names.significance(hypothesis),
                blocking=False,
                description="every comparison's verdict (better, worse, equivalent, undecided) with what each "
                "test answers; it says which comparisons are undecided, and fails only when one has no verdict",
            ),
            dg.AssetCheckSpec(
                names.HEALTH_CHECK,
                asset=names.significance(hypothesis),
                blocking=False,
                description="every dataset.task x condition of the study, one row each: trials at chance, "
                "models still improving, below the floor, worse than chance on test, unseen classes",
            ),
        ],
        description=descriptions.significance(hypothesis),
    )
    def significance(context: dg.AssetExecutionContext, platform: PlatformResource, study: StudyResource):
        keys = task_partitions.get_partition_keys()
        result = steps.significance(platform.settings(), study, hypothesis, keys, context.log)
        yield from check_results(result)
        if result.failure is not None:
            raise result.failure
        yield dg.MaterializeResult(metadata=result.metadata)

    return significance


def build_study_assets(hypothesis: str) -> tuple[dg.AssetsDefinition, ...]:
    """`<h>_trials` and `<h>_models` (per dataset.task), `<h>_significance` (all partitions, blocking check)."""
    trials = trials_asset(hypothesis)
    return trials, models_asset(hypothesis), significance_asset(hypothesis, trials)
