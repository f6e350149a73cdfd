"""Trained models per hypothesis (partitioned by dataset x task) and their significance tables."""

import dagster as dg

from .. import steps
from ..executors import TRAINING_STEP_TAGS
from ..partitions import dataset_to_tasks, task_partitions
from ..resources import PlatformResource, StudyResource


def build_study_assets(hypothesis: str):
    """`<h>_trials` and `<h>_models` (per dataset.task), `<h>_significance` (all partitions, blocking check)."""

    @dg.asset(
        name=f"{hypothesis}_trials",
        partitions_def=task_partitions,
        ins={"raw_sessions": dg.AssetIn(partition_mapping=dataset_to_tasks),
             "monah_narratives": dg.AssetIn(partition_mapping=dataset_to_tasks),
             "auxiliary_targets": dg.AssetIn(), "mutual_information": dg.AssetIn()},
        io_manager_key="table_io_manager",
        group_name="studies",
        kinds={"pytorch", "optuna", "duckdb"},
        op_tags=TRAINING_STEP_TAGS,
        check_specs=[dg.AssetCheckSpec(steps.HEALTH_CHECK, asset=f"{hypothesis}_trials", blocking=False,
                                       description="every trial left chance level, each selected model finished "
                                                   "learning and beats the floor on dev, dev and test agree")],
        description=f"Random search over every {hypothesis.upper()} condition on one dataset.task; rows in results.duckdb",
    )
    def trials_asset(context: dg.AssetExecutionContext, platform: PlatformResource, study: StudyResource,
                     raw_sessions, monah_narratives, auxiliary_targets, mutual_information):
        inputs = {"raw_sessions": raw_sessions, "monah_narratives": monah_narratives,
                  "auxiliary_targets": auxiliary_targets, "mutual_information": mutual_information}
        result = steps.trials(platform.settings(), study, hypothesis, context.partition_key, inputs, context.log)
        yield dg.Output(result.table, metadata=result.metadata)
        for check in result.checks:
            yield dg.AssetCheckResult(check_name=check.name, passed=check.passed, metadata=check.metadata,
                                      severity=dg.AssetCheckSeverity.WARN)

    @dg.asset(
        name=f"{hypothesis}_models",
        partitions_def=task_partitions,
        ins={"trials": dg.AssetIn(f"{hypothesis}_trials")},
        group_name="studies",
        kinds={"pytorch"},
        description=f"The kept model of every {hypothesis.upper()} condition on one dataset.task (the trial selected "
                    "on dev): weights, vocabulary, card, SHA-256 sums, under $HANROCK_HOME/models; use with `hanrock predict`",
    )
    def models_asset(context: dg.AssetExecutionContext, platform: PlatformResource, trials) -> dg.MaterializeResult:
        result = steps.models(platform.settings(), hypothesis, context.partition_key, trials, context.log)
        return dg.MaterializeResult(metadata=result.metadata)

    @dg.asset(
        name=f"{hypothesis}_significance",
        deps=[trials_asset],
        group_name="studies",
        kinds={"duckdb"},
        check_specs=[dg.AssetCheckSpec(steps.SIGNIFICANCE_CHECK, asset=f"{hypothesis}_significance", blocking=True,
                                       description="every dataset.task and condition has >= 2 finished trials")],
        description=f"Bootstrap significance of every {hypothesis.upper()} challenger against its baseline",
    )
    def significance_asset(context: dg.AssetExecutionContext, platform: PlatformResource, study: StudyResource):
        settings = platform.settings()
        keys = task_partitions.get_partition_keys()
        problems = steps.significance_problems(settings, study, hypothesis, keys, context.log)
        yield dg.AssetCheckResult(check_name=steps.SIGNIFICANCE_CHECK, passed=not problems,
                                  metadata=steps.check_metadata(problems))
        if problems:
            raise steps.incomplete(hypothesis, problems)
        yield dg.MaterializeResult(metadata=steps.significance(settings, study, hypothesis, context.log).metadata)

    return trials_asset, models_asset, significance_asset
