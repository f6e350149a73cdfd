"""Result rows staged as Parquet files (one per table and partition) and gathered into DuckDB.

A DuckDB file takes one writer at a time, by a file lock that network filesystems do not keep
reliably.  So every step that produces result rows first writes them whole to
`<data dir>/staged_results/<table>/<key>.parquet` (a rename: no lock, readers never see half a file).
On one machine the step then also writes them into `results.duckdb` (the default).  In a
distributed run (`HANROCK_STAGED_RESULTS=1`, workers on several hosts) steps only stage, and the
significance step, the one process that writes DuckDB, gathers the staged files first.  A staged
file replaces its partition's rows, so gathering any number of times never duplicates a row.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hanrock_core.base.deployment import read_deployment
from hanrock_core.base.errors import InputError
from hanrock_core.base.home import Home
from hanrock_core.base.io import atomic_path
from hanrock_core.base.results import replace_rows

STAGED_TABLES = (
    "mutual_information",
    "all_trials",
    "all_epochs",
    "all_predictions",
    "all_slot_predictions",
    "all_chance_levels",
    "all_replicates",
    "all_ensembles",
    "all_auxiliary_affinity",
    "study_identities",
)
KEY_METADATA = b"hanrock.key"


def staged_only(env: Mapping[str, str] = os.environ) -> bool:
    """True when steps only stage their rows (a distributed run: the significance step gathers them)."""
    return read_deployment(env).staged_results


def stage(home: Home, table: str, key: dict[str, str], rows: pd.DataFrame) -> Path:
    """Write one partition's rows of `table` whole; the key travels in the file (an empty table says 'no rows')."""
    frame = pa.Table.from_pandas(rows.reset_index(drop=True), preserve_index=False)
    frame = frame.replace_schema_metadata({**(frame.schema.metadata or {}), KEY_METADATA: json.dumps(key).encode()})
    target = home.staged_file(table, key)
    with atomic_path(target) as tmp:
        pq.write_table(frame, tmp)
    return target


def write_rows(
    home: Home,
    table: str,
    key: dict[str, str],
    rows: pd.DataFrame,
    log: Callable[[str], None] = print,
    env: Mapping[str, str] = os.environ,
) -> int:
    """Stage one partition's rows, then replace them in DuckDB unless this run only stages."""
    stage(home, table, key, rows)
    return len(rows) if staged_only(env) else replace_rows(home.results_db, table, key, rows, log)


def read_staged_rows(home: Home, table: str, key: dict[str, str]) -> pd.DataFrame:
    """The rows one partition staged for `table` (what the step that wrote them reports on)."""
    return read_staged(home.staged_file(table, key))[1]


def read_staged(path: Path) -> tuple[dict[str, str], pd.DataFrame]:
    """The key and rows of one staged file; a file that is not one of ours is refused by name."""
    try:
        frame = pq.read_table(path)
        key = json.loads((frame.schema.metadata or {})[KEY_METADATA])
    except (OSError, KeyError, ValueError, pa.ArrowException) as exc:
        raise InputError(
            f"not a staged result file ({type(exc).__name__}: {exc})",
            path,
            hint="remove it; the step that wrote it writes it again when re-run",
        ) from exc
    return key, frame.to_pandas()


def gather(home: Home, match: dict[str, str] | None = None, log: Callable[[str], None] = print) -> int:
    """Load every staged file whose key matches `match` into DuckDB (replacing its rows); returns the files loaded."""
    loaded = 0
    for table in STAGED_TABLES:
        for path in sorted((home.staged_results / table).glob("*.parquet")):
            key, rows = read_staged(path)
            if any(key.get(k, v) != v for k, v in (match or {}).items()):
                continue
            replace_rows(home.results_db, table, key, rows, log)
            loaded += 1
    if loaded:
        log(f"gathered {loaded} staged result files into {home.results_db}")
    return loaded


__all__ = ["STAGED_TABLES", "gather", "read_staged", "read_staged_rows", "stage", "staged_only", "write_rows"]
