"""Attention report per dataset x task (appendix A.5, Figure 5): an HTML page beside the results."""

import dagster as dg

from .. import descriptions, names, steps
from ..executors import TRAINING_STEP_TAGS
from ..partitions import task_partitions
from ..resources import PlatformResource, StudyResource
from ..run_config import AttentionReportConfig
from .studies import TASK_INS


@dg.asset(
    partitions_def=task_partitions,
    ins=TASK_INS,
    deps=[names.models("h1")],
    group_name="reports",
    kinds={"pytorch", "html"},
    op_tags=TRAINING_STEP_TAGS,
    description=descriptions.with_partition_links(
        descriptions.ATTENTION_REPORT, names.ATTENTION_REPORT, task_partitions.get_partition_keys()
    ),
)
def attention_report(
    context: dg.AssetExecutionContext,
    config: AttentionReportConfig,
    platform: PlatformResource,
    study: StudyResource,
    raw_sessions,
    monah_narratives,
    auxiliary_targets,
    mutual_information,
) -> dg.MaterializeResult:
    """The kept H1 all-families model (MTL) beside its STL twin trained here, and the page."""
    inputs = steps.TaskInputs(raw_sessions, monah_narratives, auxiliary_targets, mutual_information)
    result = steps.attention_report(platform.settings(), study, config, context.partition_key, inputs, context.log)
    return dg.MaterializeResult(metadata=result.metadata)
