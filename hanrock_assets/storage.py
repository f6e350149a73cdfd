"""Table-valued assets as Parquet files: `<home>/assets/<asset>/<partition>.parquet` (Home.asset_file).

Shared by the IO manager (asset materialisations) and the study job's ops, so both read and
write the same files.  Writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hanrock_core.base.home import Home
from hanrock_core.base.io import write_parquet_atomic


def write_table(home: Home, asset: str, partition: str | None, table: pd.DataFrame) -> Path:
    return write_parquet_atomic(table, home.asset_file(asset, partition))


def read_table(home: Home, asset: str, partition: str | None) -> pd.DataFrame:
    path = home.asset_file(asset, partition)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: partition {partition!r} of {asset} is not materialised yet; materialise it first"
        )
    table = pd.read_parquet(path)
    if "partition" in table.columns and "split" not in table.columns:  # written before splits were called splits
        table = table.rename(columns={"partition": "split"})
    return table
