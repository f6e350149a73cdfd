"""Attention report per dataset x task (appendix A.5, Figure 5): an HTML page beside the results."""

import dagster as dg
import torch
from pydantic import Field

from hanrock_core.attention_html import write_attention_report
from hanrock_core.attention_report import default_models, models_from_trial
from hanrock_core.results import best_trial
from hanrock_core.search import attach_vectors

from ..executors import TRAINING_STEP_TAGS
from ..metadata import md_table
from ..partitions import dataset_to_tasks, split_task_key, task_partitions
from ..resources import PlatformResource
from .studies import StudyResource, load_partition, study_profile


class AttentionReportConfig(dg.Config):
    samples: int = Field(8, description="test talkturns shown, spread over the classes (or value quartiles)")
    seed: int = Field(0, description="seed of the sample (and of training when no study trial sets it)")
    hypothesis: str = Field("h1", description="take the hyper-parameters of this study's best all-families trial")
    condition: str = Field("aphf", description="the study condition whose best trial sets the hyper-parameters")


@dg.asset(
    partitions_def=task_partitions,
    deps=[dg.AssetDep("raw_sessions", partition_mapping=dataset_to_tasks),
          dg.AssetDep("monah_narratives", partition_mapping=dataset_to_tasks),
          "auxiliary_targets", "mutual_information", "h1_trials"],
    group_name="reports",
    kinds={"pytorch", "html"},
    op_tags=TRAINING_STEP_TAGS,
    description="HTML page: attention of an MTL and an STL HAN-ROCK model on sampled test talkturns (Figure 5)",
)
def attention_report(context: dg.AssetExecutionContext, config: AttentionReportConfig, platform: PlatformResource,
                     study: StudyResource) -> dg.MaterializeResult:
    """Trains the MTL / STL pair (the best H1 all-families trial's settings when there is one) and writes the page."""
    key = context.partition_key
    dataset, task = split_task_key(key)
    home = platform.settings().home
    part, table, inputs = load_partition(platform, key)
    profile = study_profile(platform, study)
    if profile.embeddings is not None:  # the models are the study's: the same word vectors
        attach_vectors(part, profile, context.log.info)
    torch.set_num_threads(study.threads())  # like a training step: one step per core under the multiprocess executor
    trial = best_trial(home / "results.duckdb", config.hypothesis, dataset, task, config.condition, context.log.info)
    if trial is None:
        context.log.info(f"no finished {config.hypothesis} {config.condition} trial for {key}: using the profile's defaults")
        models = default_models(part.data, part.mi, profile, config.seed)
    else:
        models = models_from_trial(trial, part.data, profile)
    out = home / "reports" / "attention" / f"{key}.html"
    summary = write_attention_report(part.data, models, table, inputs, f"Attention report: {key}",
                                     home / "reports" / "models" / key, out, config.samples, config.seed,
                                     context.log.info)
    metric, _ = part.data.selection
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.path(str(out)),
        "open": dg.MetadataValue.url(out.resolve().as_uri()),
        "models_from": dg.MetadataValue.text(summary.source),
        "examples": dg.MetadataValue.int(summary.examples),
        f"mtl_test_{metric}": dg.MetadataValue.float(float(summary.test_metrics["mtl"][metric])),
        f"stl_test_{metric}": dg.MetadataValue.float(float(summary.test_metrics["stl"][metric])),
        "same_prediction_share": dg.MetadataValue.float(summary.agreement),
        "talkturn_attention_by_position": md_table(summary.positions.round(3).reset_index(names="talkturn")),
    })
