"""Where a researcher finds the results in the Dagster UI: the addresses of its pages.

Dagster opens a partitioned asset's page on whichever partition was materialised last, and its
Partitions tab on "No partition selected"; there is no definition-side default.  A page address can
name the partition (`?view=partitions&partition=iemocap.emotion`), so every partitioned asset's
description carries one link per partition (`partition_links`).  `ui_tour.py` renders these pages.
"""

from __future__ import annotations

from urllib.parse import quote

from .code_location import LOCATION_NAME


def asset_page(asset: str) -> str:
    """The asset's page (Overview tab)."""
    return f"/assets/{quote(asset)}"


def partition_page(asset: str, key: str) -> str:
    """The asset's Partitions tab with `key` selected: its latest materialisation and metadata."""
    return f"{asset_page(asset)}?view=partitions&partition={quote(key, safe='')}"


def check_page(asset: str, check: str) -> str:
    """One asset check of an asset: its latest evaluation and metadata."""
    return f"{asset_page(asset)}?view=checks&checkDetail={quote(check)}"


def job_runs_page(job: str) -> str:
    """A job's run list under the platform's code location."""
    return f"/locations/{LOCATION_NAME}/jobs/{quote(job)}/runs"


def partition_links(asset: str, keys: list[str], lead: str = "Open one partition") -> str:
    """A Markdown line for an asset's description: one link per partition key (none for no keys)."""
    if not keys:
        return ""
    links = " · ".join(f"[{key}]({partition_page(asset, key)})" for key in keys)
    return f"\n\n{lead}: {links}"


def tour(hypothesis: str, partition: str) -> list[tuple[str, str]]:
    """(file stem, address) of the pages a researcher opens first after a study of `hypothesis`."""
    return [
        ("overview", "/overview"),
        (f"{hypothesis}_study_runs", job_runs_page(f"{hypothesis}_study")),
        (f"{hypothesis}_significance", asset_page(f"{hypothesis}_significance")),
        (f"{hypothesis}_verdicts", check_page(f"{hypothesis}_significance", "comparisons_decided")),
        (f"{hypothesis}_study_health", check_page(f"{hypothesis}_significance", "study_health")),
        (f"{hypothesis}_trials_{partition}", partition_page(f"{hypothesis}_trials", partition)),
    ]
