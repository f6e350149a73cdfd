"""Resources: the platform settings and the Parquet store of table-valued assets."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from hanrock_core.settings import Settings, load_settings

from .storage import read_table, write_table


class PlatformResource(dg.ConfigurableResource):
    """The platform's settings file; empty means $HANROCK_CONFIG, ./hanrock.yaml or the defaults."""

    config_file: str = ""

    def settings(self) -> Settings:
        return load_settings(self.config_file or None)


class TalkturnParquetIOManager(dg.ConfigurableIOManager):
    """Stores each partition of a table-valued asset as `<base_dir>/<asset>/<partition>.parquet`.

    A run over a partition range returns a dict partition -> table and gets one file each.
    """

    platform: PlatformResource

    @property
    def base_dir(self) -> str:
        return str(self.platform.settings().home / "assets")

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | dict[str, pd.DataFrame]) -> None:
        keys = sorted(context.asset_partition_keys) if context.has_asset_partitions else [None]
        asset = context.asset_key.to_python_identifier()
        for key in keys:
            path = write_table(self.base_dir, asset, key, obj[key] if isinstance(obj, dict) else obj)
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame | dict[str, pd.DataFrame]:
        keys = sorted(context.asset_partition_keys) if context.has_asset_partitions else [None]
        asset = context.asset_key.to_python_identifier()
        tables = {key: read_table(self.base_dir, asset, key) for key in keys}
        return tables[keys[0]] if len(keys) == 1 else tables


def resources(config_file: str = "", profile: str = "quick") -> dict[str, object]:
    """The resources every definition needs, reading one settings file (empty: the usual lookup)."""
    from .assets.studies import StudyResource

    platform = PlatformResource(config_file=config_file)
    return {"platform": platform, "table_io_manager": TalkturnParquetIOManager(platform=platform),
            "study": StudyResource(profile=profile)}
