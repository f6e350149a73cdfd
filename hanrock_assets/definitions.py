"""The platform's Definitions: assets, jobs and resources in one place; the deployment (HANROCK_* variables,
read once by `hanrock_core.base.deployment`) chooses the executor and the storage the resources use."""

from __future__ import annotations

import dagster as dg

from hanrock_core.base.deployment import read_deployment
from hanrock_core.study.hypotheses import HYPOTHESES

from .assets.auxiliary import auxiliary_targets
from .assets.corpus import raw_sessions
from .assets.narratives import monah_narratives
from .assets.reports import attention_report
from .assets.studies import build_study_assets
from .executors import executor_for
from .jobs import h1_study, h2_study, h3_study, h4_study, main_job, paper_study
from .resources import resources

deployment = read_deployment()
study_assets = [a for h in HYPOTHESES for a in build_study_assets(h)]

defs = dg.Definitions(
    assets=[raw_sessions, monah_narratives, auxiliary_targets, *study_assets, attention_report],
    jobs=[main_job, h1_study, h2_study, h3_study, h4_study, paper_study],
    resources=resources(deployment=deployment),
    executor=executor_for(deployment),
)
