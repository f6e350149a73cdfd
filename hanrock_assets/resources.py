"""Resources: the platform settings and the Parquet store of talkturn tables."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pandas as pd

from hanrock_core.io import atomic_path
from hanrock_core.settings import Settings, load_settings


class PlatformResource(dg.ConfigurableResource):
    """The platform's settings file; empty means $HANROCK_CONFIG, ./hanrock.yaml or the defaults."""

    config_file: str = ""

    def settings(self) -> Settings:
        return load_settings(self.config_file or None)


def _safe(key: str) -> str:
    """A partition key as a file name (multi-dimension keys contain '|')."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", key)


class TalkturnParquetIOManager(dg.ConfigurableIOManager):
    """Stores each partition of a table-valued asset as `<base_dir>/<asset>/<partition>.parquet`.

    A run over a partition range returns a dict partition -> table and gets one file each.  Writes
    go through a temporary file and a rename, so a failed step never leaves half a table.
    """

    base_dir: str

    def _path(self, asset_key: dg.AssetKey, partition: str | None) -> Path:
        folder = Path(self.base_dir).joinpath(*asset_key.path)
        return folder / f"{_safe(partition) if partition else 'all'}.parquet"

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | dict[str, pd.DataFrame]) -> None:
        keys = sorted(context.asset_partition_keys) if context.has_asset_partitions else [None]
        for key in keys:
            table = obj[key] if isinstance(obj, dict) else obj
            with atomic_path(self._path(context.asset_key, key)) as tmp:
                table.to_parquet(tmp, index=False)
        context.add_output_metadata({"path": dg.MetadataValue.path(str(self._path(context.asset_key, keys[0])))})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame | dict[str, pd.DataFrame]:
        keys = sorted(context.asset_partition_keys) if context.has_asset_partitions else [None]
        tables = {}
        for key in keys:
            path = self._path(context.asset_key, key)
            if not path.exists():
                raise FileNotFoundError(f"{path}: partition {key!r} of {context.asset_key.to_user_string()} "
                                        "is not materialised yet; materialise it first")
            tables[key] = pd.read_parquet(path)
        return tables[keys[0]] if len(keys) == 1 else tables


def talkturn_io_manager() -> TalkturnParquetIOManager:
    """The IO manager rooted in the platform's data directory."""
    return TalkturnParquetIOManager(base_dir=str(load_settings().home / "assets"))
