"""Where table-valued assets live: `<home>/assets/<asset>/<partition>.parquet`.

Shared by the IO manager (asset materialisations) and the study job's ops, so both read and
write the same files.  Writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from hanrock_core.io import write_parquet_atomic


def partition_file(base_dir: str | Path, asset: str, partition: str | None) -> Path:
    """The Parquet file of one partition (or `all` for an unpartitioned asset)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", partition) if partition else "all"
    return Path(base_dir) / asset / f"{name}.parquet"


def write_table(base_dir: str | Path, asset: str, partition: str | None, table: pd.DataFrame) -> Path:
    return write_parquet_atomic(table, partition_file(base_dir, asset, partition))


def read_table(base_dir: str | Path, asset: str, partition: str | None) -> pd.DataFrame:
    path = partition_file(base_dir, asset, partition)
    if not path.exists():
        raise FileNotFoundError(f"{path}: partition {partition!r} of {asset} is not materialised yet; materialise it first")
    table = pd.read_parquet(path)
    if "partition" in table.columns and "split" not in table.columns:  # written before splits were called splits
        table = table.rename(columns={"partition": "split"})
    return table
