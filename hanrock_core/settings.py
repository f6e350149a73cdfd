"""Platform settings: the data directory, the synthetic corpus, and the datasets to study.

Read from the YAML file named by `$HANROCK_CONFIG`, else `./hanrock.yaml` if present, else the
defaults below.  The data directory is `$HANROCK_HOME`, else the file's `home`, else `./.hanrock`.
`docs/configuration.md` lists every key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .corpora import RAW_CORPORA
from .errors import InputError

DEFAULT_HOME = ".hanrock"
DEFAULT_SYNTHETIC_SCALE = 0.2  # large enough for the quick study's models to learn
DATASET_KEYS = {"root", "spec", "partitions", "openface", "vokaturi"}
TOP_KEYS = {"home", "synthetic", "datasets"}


@dataclass(frozen=True)
class DatasetConfig:
    """Where one dataset lives; `root: None` for iemocap/semaine means the embedded synthetic corpus."""

    name: str
    root: Path | None = None
    spec: Path | None = None
    partitions: Path | None = None
    openface: Path | None = None
    vokaturi: Path | None = None

    @property
    def corpus(self) -> str:
        """Which reader handles it: iemocap, semaine or byo."""
        return "byo" if self.spec is not None else self.name


@dataclass(frozen=True)
class Settings:
    home: Path
    synthetic_scale: float = DEFAULT_SYNTHETIC_SCALE
    synthetic_seed: int = 0
    datasets: dict[str, DatasetConfig] = field(default_factory=dict)
    source: str = "<defaults>"

    def dataset(self, name: str) -> DatasetConfig:
        if name not in self.datasets:
            raise InputError(f"unknown dataset {name!r}; configured: {sorted(self.datasets)}", self.source)
        return self.datasets[name]


def config_path() -> Path | None:
    """The settings file in force, if any."""
    if os.environ.get("HANROCK_CONFIG"):
        return Path(os.environ["HANROCK_CONFIG"])
    local = Path("hanrock.yaml")
    return local if local.exists() else None


def _path(value, base: Path) -> Path | None:
    if value in (None, ""):
        return None
    p = Path(os.path.expandvars(str(value))).expanduser()
    return p if p.is_absolute() else (base / p)


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from `path` (or the file in force), with the built-in datasets always present."""
    path = Path(path) if path is not None else config_path()
    data: dict = {}
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(f"cannot read settings: {exc}", path) from exc
        if not isinstance(data, dict):
            raise InputError("settings must be a YAML mapping", path, 1)
        unknown = set(data) - TOP_KEYS
        if unknown:
            raise InputError(f"unknown settings keys {sorted(unknown)}; known: {sorted(TOP_KEYS)}", path)
    base = path.parent.resolve() if path is not None else Path.cwd()
    home_value = os.environ.get("HANROCK_HOME") or data.get("home") or DEFAULT_HOME
    home = _path(home_value, Path.cwd() if os.environ.get("HANROCK_HOME") else base)
    synthetic = data.get("synthetic") or {}
    datasets = {name: DatasetConfig(name) for name in RAW_CORPORA}
    for name, cfg in (data.get("datasets") or {}).items():
        cfg = cfg or {}
        unknown = set(cfg) - DATASET_KEYS
        if unknown:
            raise InputError(f"dataset {name!r}: unknown keys {sorted(unknown)}; known: {sorted(DATASET_KEYS)}", path)
        if name not in RAW_CORPORA and not cfg.get("spec"):
            raise InputError(f"dataset {name!r} needs a 'spec' (a bring-your-own dataset spec YAML)", path)
        datasets[name] = DatasetConfig(name, **{k: _path(cfg.get(k), base) for k in DATASET_KEYS})
    scale = float(synthetic.get("scale", DEFAULT_SYNTHETIC_SCALE))
    if not 0 < scale <= 1:
        raise InputError(f"synthetic.scale {scale} must be in (0, 1]", path)
    return Settings(home=home.resolve(), synthetic_scale=scale, synthetic_seed=int(synthetic.get("seed", 0)),
                    datasets=datasets, source=str(path) if path else "<defaults>")


MIN_FREE_BYTES = 200 * 1024 * 1024  # a study writes studies, checkpoints and results: refuse to start below this


def check_data_directory(home: Path, min_free_bytes: int = MIN_FREE_BYTES) -> Path:
    """Fail early, with a clear message, when the data directory cannot be written or is nearly full."""
    import shutil
    import tempfile

    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=home, prefix=".write-probe-"):
            pass
    except OSError as exc:
        raise InputError(f"the data directory cannot be written: {exc.strerror or exc}", home,
                         hint="set HANROCK_HOME (or `home` in the settings) to a writable directory") from exc
    free = shutil.disk_usage(home).free
    if free < min_free_bytes:
        raise InputError(f"only {free / 2**20:.0f} MiB free in the data directory (need {min_free_bytes / 2**20:.0f} MiB)",
                         home, hint="free some space or point HANROCK_HOME at a larger disk")
    return home
