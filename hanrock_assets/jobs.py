"""Jobs a user runs from the command line or the UI."""

from __future__ import annotations

import dagster as dg

from .partitions import ALL_DATASETS_TAGS

# The main job grows with the platform; for now it reads every configured dataset.  Its default
# tags select the whole partition range, so `dagster job execute -j main_job` needs no key.
main_job = dg.define_asset_job(
    "main_job",
    selection=dg.AssetSelection.assets("raw_sessions"),
    tags=ALL_DATASETS_TAGS,
    description="Read every configured dataset into the talkturn table (all partitions in one run).",
)
