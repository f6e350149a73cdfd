"""Resources: the platform settings (one source for partitions and steps), the study profile, and
the Parquet store of table-valued assets."""

from __future__ import annotations

import dataclasses
import functools
import os
from enum import Enum
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from hanrock_core.base.deployment import Deployment, read_deployment
from hanrock_core.preparation.narrative import NarrativeRecipe
from hanrock_core.preparation.settings import Settings, config_path, load_settings
from hanrock_core.study.profiles import Profile, load_profile

from .storage import read_table, write_table


@functools.lru_cache(maxsize=16)
def _read_settings(path: str, modified_ns: int, home: str, env_home: str, cwd: str) -> Settings:
    return load_settings(path or None, home or None)


def platform_settings(config_file: str = "", home: str = "") -> Settings:
    """The settings in force, read once per process for each settings file (and its version on disk).

    Empty `config_file` / `home`: `$HANROCK_CONFIG` or `./hanrock.yaml`, and `$HANROCK_HOME` or the
    file's `home`. The partition definitions and every step of a run go through this one function.
    """
    path = config_file or str(config_path() or "")
    modified = Path(path).stat().st_mtime_ns if path and Path(path).is_file() else 0
    return _read_settings(path, modified, home, str(read_deployment().home or ""), os.getcwd())


def _from_env(name: str, deployment: Deployment):
    """An EnvVar (the launchpad shows the variable) when the deployment sets it, else empty."""
    return dg.EnvVar(name) if name in deployment.given else ""


class PlatformResource(dg.ConfigurableResource):
    """Where the platform's settings and data live (the environment's, unless a run says otherwise)."""

    config_file: str = Field("", description="settings file (hanrock.yaml); empty: $HANROCK_CONFIG or ./hanrock.yaml")
    home: str = Field("", description="data directory; empty: $HANROCK_HOME, the settings' `home`, or ./.hanrock")

    def settings(self) -> Settings:
        return platform_settings(self.config_file, self.home)


class OnChangedInputs(str, Enum):
    """What a study step does when a partition's stored studies were trained on other inputs."""

    new_study = "new_study"
    refuse = "refuse"


class NarrativeResource(dg.ConfigurableResource):
    """How talkturns become model inputs in this run: each dataset's recipe from the settings (`narratives:`
    under the dataset in hanrock.yaml), unless the run sets a field here (the same for the asset and the jobs)."""

    family: str = Field(
        "",
        description="v (verbatim), vp (+prosody), va (+actions) or vpa (both; the paper's); "
        "empty: the dataset's setting",
    )
    keep_punctuation: str | None = Field(
        None,
        description="punctuation kept as tokens of the model input, e.g. "
        "'?!' (the paper: none); unset: the dataset's setting",
    )

    def recipe(self, settings: Settings, dataset: str) -> NarrativeRecipe:
        """The dataset's recipe with this run's overrides."""
        base = settings.dataset(dataset).narratives
        keep = base.keep_punctuation if self.keep_punctuation is None else self.keep_punctuation
        return NarrativeRecipe(self.family or base.family, keep)


class StudyResource(dg.ConfigurableResource):
    """The study profile (quick, standard, paper, or a YAML file of your own) and where studies are stored."""

    profile: str = Field(
        "quick", description="quick, standard (real text on a CPU), paper, or the path of a profile YAML file"
    )
    storage_url: str = Field(
        "",
        description="an Optuna RDB URL shared by several workers, e.g. "
        "postgresql+psycopg2://user@host:5432/db "
        "(empty: $HANROCK_OPTUNA_STORAGE, else one SQLite file per study)",
    )
    torch_threads: int = Field(
        1,
        ge=0,
        le=1024,
        description="torch threads per training step; the multiprocess executor runs "
        "one step per core, so more threads than 1 oversubscribe the CPU",
    )
    on_changed_inputs: OnChangedInputs = Field(
        OnChangedInputs.new_study,
        description="when the stored studies of a partition were trained on other inputs (profile, narratives, "
        "targets, data or code): new_study starts new studies and keeps the old ones as superseded; "
        "refuse stops the step saying what differs",
    )

    def load(self, settings: Settings | None = None) -> Profile:
        """The profile; word vectors from the settings when the profile names none (they are this machine's)."""
        profile = load_profile(self.profile)
        if settings is not None and profile.embeddings is None and settings.embeddings is not None:
            profile = dataclasses.replace(profile, embeddings=settings.embeddings)
        return profile

    def changed_inputs(self) -> str:
        """new_study or refuse (study_storage.check_inputs)."""
        return OnChangedInputs(self.on_changed_inputs).value

    def threads(self) -> int:
        return max(1, self.torch_threads)

    def study_storage(self) -> str | None:
        """The Optuna storage URL: the field, else $HANROCK_OPTUNA_STORAGE (a run config that sets the
        profile replaces the resource's configured fields), else None (SQLite files)."""
        return self.storage_url or read_deployment().optuna_storage


class TalkturnParquetIOManager(dg.ConfigurableIOManager):
    """Stores each partition of a table-valued asset as `<home>/assets/<asset>/<partition>.parquet`.

    A run over a partition range returns a dict partition -> table and gets one file each.
    """

    platform: PlatformResource

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | dict[str, pd.DataFrame]) -> None:
        keys = sorted(context.asset_partition_keys) if context.has_asset_partitions else [None]
        asset = context.asset_key.to_python_identifier()
        for key in keys:
            path = write_table(self.platform.settings().home, asset, key, obj[key] if isinstance(obj, dict) else obj)
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame | dict[str, pd.DataFrame]:
        keys = sorted(context.asset_partition_keys) if context.has_asset_partitions else [None]
        asset = context.asset_key.to_python_identifier()
        tables = {key: read_table(self.platform.settings().home, asset, key) for key in keys}
        return tables[keys[0]] if len(keys) == 1 else tables


def resources(
    config_file: str = "", profile: str = "quick", home: str = "", deployment: Deployment | None = None
) -> dict[str, object]:
    """The resources every definition needs; empty `config_file` / `home`: the deployment's."""
    deployment = deployment or read_deployment()
    platform = PlatformResource(
        config_file=config_file or _from_env("HANROCK_CONFIG", deployment),
        home=home or _from_env("HANROCK_HOME", deployment),
    )
    return {
        "platform": platform,
        "table_io_manager": TalkturnParquetIOManager(platform=platform),
        "narratives": NarrativeResource(),
        "study": StudyResource(profile=profile, storage_url=_from_env("HANROCK_OPTUNA_STORAGE", deployment)),
    }
