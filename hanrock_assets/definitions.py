"""The platform's Definitions: assets, jobs and resources in one place."""

from __future__ import annotations

import dagster as dg

from .assets.auxiliary import auxiliary_targets
from .assets.corpus import raw_sessions
from .assets.narratives import monah_narratives
from .jobs import main_job
from .resources import resources

defs = dg.Definitions(
    assets=[raw_sessions, monah_narratives, auxiliary_targets],
    jobs=[main_job],
    resources=resources(),
)
