"""The platform's Definitions: assets, jobs and resources in one place."""

from __future__ import annotations

import dagster as dg

from .assets.corpus import raw_sessions
from .jobs import main_job
from .resources import PlatformResource, talkturn_io_manager

defs = dg.Definitions(
    assets=[raw_sessions],
    jobs=[main_job],
    resources={"platform": PlatformResource(), "talkturn_io_manager": talkturn_io_manager()},
)
