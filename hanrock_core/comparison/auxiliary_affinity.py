"""Which auxiliary targets help: each target's measured affinity with the primary task, ranked beside the
paper's mutual-information ranking, per condition and per family.

The ranking has one owner, the `auxiliary_affinity` and `auxiliary_affinity_family` views of
sql/views.sql (what `hanrock results affinity` prints); a training step's page shows the same views
computed in memory over the rows it has just written (a host that only stages its rows has them too)."""

from __future__ import annotations

import pandas as pd

from hanrock_core.base.results import in_memory

TABLES = ("all_auxiliary_affinity", "all_trials", "study_identities", "mutual_information")  # what the views read


def partition_affinity(tables: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The `auxiliary_affinity` and `auxiliary_affinity_family` rows of one partition's freshly written
    tables (TABLES), computed by the views themselves."""
    conn = in_memory({name: tables[name] for name in TABLES})
    try:
        return (
            conn.execute("SELECT * FROM auxiliary_affinity").df(),
            conn.execute("SELECT * FROM auxiliary_affinity_family").df(),
        )
    finally:
        conn.close()


__all__ = ["TABLES", "partition_affinity"]
