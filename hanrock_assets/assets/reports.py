"""Attention report per dataset x task (appendix A.5, Figure 5): an HTML page beside the results."""

import dagster as dg

from .. import steps
from ..executors import TRAINING_STEP_TAGS
from ..partitions import dataset_to_tasks, task_partitions
from ..resources import PlatformResource, StudyResource
from ..run_config import AttentionReportConfig


@dg.asset(
    partitions_def=task_partitions,
    ins={"raw_sessions": dg.AssetIn(partition_mapping=dataset_to_tasks),
         "monah_narratives": dg.AssetIn(partition_mapping=dataset_to_tasks),
         "auxiliary_targets": dg.AssetIn(), "mutual_information": dg.AssetIn()},
    deps=["h1_models"],
    group_name="reports",
    kinds={"pytorch", "html"},
    op_tags=TRAINING_STEP_TAGS,
    description="HTML page: attention of the kept MTL HAN-ROCK model and an STL twin on sampled test talkturns (Figure 5)",
)
def attention_report(context: dg.AssetExecutionContext, config: AttentionReportConfig, platform: PlatformResource,
                     study: StudyResource, raw_sessions, monah_narratives, auxiliary_targets,
                     mutual_information) -> dg.MaterializeResult:
    """The kept H1 all-families model (MTL) beside its STL twin trained here, and the page."""
    inputs = {"raw_sessions": raw_sessions, "monah_narratives": monah_narratives,
              "auxiliary_targets": auxiliary_targets, "mutual_information": mutual_information}
    result = steps.attention_report(platform.settings(), study, config, context.partition_key, inputs, context.log)
    return dg.MaterializeResult(metadata=result.metadata)
