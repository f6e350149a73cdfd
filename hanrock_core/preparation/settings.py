"""Platform settings: the data directory, the synthetic corpus, and the datasets to study.

Read from the YAML file named by `$HANROCK_CONFIG`, else `./hanrock.yaml` if present, else the
defaults below.  The data directory is `$HANROCK_HOME`, else the file's `home`, else `./.hanrock`.
`docs/configuration.md` lists every key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from hanrock_core.base.config_file import (
    ConfigFile,
    as_int,
    as_mapping,
    as_name,
    as_number,
    as_str,
    read_config,
    refuse_unknown,
)
from hanrock_core.base.deployment import read_deployment
from hanrock_core.base.errors import InputError
from hanrock_core.base.home import Home
from hanrock_core.base.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS
from hanrock_core.preparation.narrative import NARRATIVE_FAMILIES, NarrativeRecipe
from hanrock_core.preparation.pretrained_vectors import VectorSpec, parse_vector_spec
from hanrock_core.reading.corpora import RAW_CORPORA
from hanrock_core.reading.layouts import LAYOUTS, ReadingOptions

ALL_METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS

DEFAULT_HOME = ".hanrock"
DEFAULT_SYNTHETIC_SCALE = 0.2  # large enough for the quick study's models to learn
MAX_SEED = 2**32 - 1  # numpy's seeds
MAX_OPENFACE_FPS = 10_000.0  # high-speed cameras stop near 1,000 frames per second
PATH_KEYS = ("root", "spec", "splits", "openface", "vokaturi")
DATASET_KEYS = set(PATH_KEYS) | {
    "corpus",
    "openface_fps",
    "metrics",
    "partitions",
    "narratives",
}  # partitions: the old name of splits
RECIPE_KEYS = {"family", "keep_punctuation"}
TOP_KEYS = {"home", "synthetic", "datasets", "embeddings"}
SYNTHETIC_KEYS = {"scale", "seed"}


@dataclass(frozen=True)
class DatasetConfig:
    """Where one dataset lives; `root: None` for iemocap/semaine means the embedded synthetic corpus.

    `error` holds what is wrong with this dataset's entry or spec: the dataset's own steps fail
    with it, while every other dataset goes on.
    """

    name: str
    layout: str | None = None  # `corpus:`, the layout its files are in (absent: see `corpus`)
    root: Path | None = None
    spec: Path | None = None
    splits: Path | None = None
    openface: Path | None = None
    vokaturi: Path | None = None
    openface_fps: float | None = None
    metrics: dict[str, str] = field(default_factory=dict)  # task -> selection metric, overriding the default
    narratives: NarrativeRecipe = NarrativeRecipe()  # how its talkturns become model inputs
    error: InputError | None = None

    @property
    def corpus(self) -> str:
        """The layout its files are in (`layouts.LAYOUTS`): `corpus:` if given, else byo with a spec, else its
        name (the built-in iemocap and semaine)."""
        if self.layout is not None:
            return self.layout
        return "byo" if self.spec is not None or self.name not in RAW_CORPORA else self.name

    @property
    def options(self) -> ReadingOptions:
        """What its reader is told besides the root."""
        return ReadingOptions(self.spec, self.splits, self.openface, self.vokaturi, self.openface_fps)


@dataclass(frozen=True)
class Settings:
    home: Home  # the data directory and every path under it
    synthetic_scale: float = DEFAULT_SYNTHETIC_SCALE
    synthetic_seed: int = 0
    datasets: dict[str, DatasetConfig] = field(default_factory=dict)
    source: str = "<defaults>"
    embeddings: VectorSpec | None = None  # this machine's pretrained word vectors (a profile's own win)

    def dataset(self, name: str) -> DatasetConfig:
        """A configured dataset; a broken entry raises its error here, where its own step uses it."""
        if name not in self.datasets:
            raise InputError(f"unknown dataset {name!r}; configured: {sorted(self.datasets)}", self.source)
        cfg = self.datasets[name]
        if cfg.error is not None:
            raise cfg.error
        return cfg


def config_path() -> Path | None:
    """The settings file in force, if any."""
    given = read_deployment().config
    if given is not None:
        return given
    local = Path("hanrock.yaml")
    return local if local.exists() else None


def _path(value, base: Path) -> Path | None:
    if value in (None, ""):
        return None
    p = Path(os.path.expandvars(str(value))).expanduser()
    return p if p.is_absolute() else (base / p)


def _dataset(cfg: ConfigFile, name: str, entry, base: Path) -> DatasetConfig:
    """One `datasets:` entry; its problems are kept on the entry instead of stopping every dataset."""
    key = f"datasets.{name}"
    try:
        entry = as_mapping(cfg, key, entry or {})
        refuse_unknown(cfg, entry, DATASET_KEYS, f"{key}.")
        if "partitions" in entry:  # the key's name before splits were called splits
            if "splits" in entry:
                raise cfg.error(
                    f"{key}.partitions", f"{key} names both splits and partitions (its old name): keep splits"
                )
            entry = {**entry, "splits": entry["partitions"]}
        paths = {k: _path(as_str(cfg, f"{key}.{k}", entry[k]), base) for k in PATH_KEYS if entry.get(k) is not None}
        for k, p in paths.items():
            if not p.exists():
                raise cfg.error(
                    f"{key}.{k}",
                    f"{key}.{k}: {p} does not exist",
                    hint=f"correct the path (relative paths start at {base}) or mount the data",
                )
        fps = entry.get("openface_fps")
        if fps is not None:
            fps = as_number(cfg, f"{key}.openface_fps", fps, 0.0, MAX_OPENFACE_FPS, low_open=True)
        given = [
            k for k in ReadingOptions.__dataclass_fields__ if k in paths or (k == "openface_fps" and fps is not None)
        ]
        corpus = _layout(cfg, key, entry.get("corpus"), name, given)

        metrics = as_mapping(cfg, f"{key}.metrics", entry.get("metrics") or {})
        for task, metric in metrics.items():
            if metric not in ALL_METRICS:
                raise cfg.error(
                    f"{key}.metrics.{task}", f"{key}.metrics.{task} {metric!r} is not one of {list(ALL_METRICS)}"
                )
        return DatasetConfig(
            name,
            layout=corpus,
            openface_fps=fps,
            metrics={str(k): v for k, v in metrics.items()},
            narratives=_recipe(cfg, f"{key}.narratives", entry.get("narratives")),
            **paths,
        )
    except InputError as exc:
        return DatasetConfig(name, error=exc)


def _layout(cfg: ConfigFile, key: str, value, name: str, given: list[str]) -> str | None:
    """`corpus: iemocap | semaine | byo` of a dataset entry, checked against the options the entry gives."""
    if value is None:
        if name not in RAW_CORPORA and "spec" not in given:
            raise cfg.error(
                key,
                f"dataset {name!r} needs a 'spec' (a bring-your-own dataset spec YAML) or a 'corpus' layout",
                hint=f"corpus: one of {', '.join(LAYOUTS)}",
            )
        return None
    value = as_str(cfg, f"{key}.corpus", value)
    if value not in LAYOUTS:
        raise cfg.error(f"{key}.corpus", f"{key}.corpus must be one of {list(LAYOUTS)}, not {value!r}")
    chosen = LAYOUTS[value]
    if "spec" in chosen.options and "spec" not in given:
        raise cfg.error(f"{key}.corpus", f"{key}: {chosen.what} needs a 'spec' (a dataset spec YAML)")
    refused = [k for k in given if k not in chosen.options]
    if refused:
        raise cfg.error(
            f"{key}.{refused[0]}", f"{key}.{refused[0]} cannot be used with {chosen.what}", hint=chosen.hint or None
        )
    return value


def _recipe(cfg: ConfigFile, key: str, entry) -> NarrativeRecipe:
    """`narratives: {family: vpa, keep_punctuation: "?!"}` of a dataset entry (absent: the paper's recipe)."""
    entry = as_mapping(cfg, key, entry or {})
    refuse_unknown(cfg, entry, RECIPE_KEYS, f"{key}.")
    family = as_str(cfg, f"{key}.family", entry.get("family", "vpa"))
    keep = entry.get("keep_punctuation", "")
    if not isinstance(keep, str):
        raise cfg.error(f"{key}.keep_punctuation", f'{key}.keep_punctuation must be text such as "?!", not {keep!r}')
    if family not in NARRATIVE_FAMILIES:
        raise cfg.error(f"{key}.family", f"{key}.family must be one of {list(NARRATIVE_FAMILIES)}, not {family!r}")
    return NarrativeRecipe(family, keep)


def load_settings(path: str | Path | None = None, home: str | Path | None = None) -> Settings:
    """Settings from `path` (or the file in force), with the built-in datasets always present.

    `home` (a directory) beats `$HANROCK_HOME` and the file's `home`.
    """
    path = Path(path) if path is not None else config_path()
    cfg = read_config(path, "settings file") if path is not None else ConfigFile(Path("<defaults>"), "settings", {}, {})
    data = cfg.data
    refuse_unknown(cfg, data, TOP_KEYS)
    base = path.parent.resolve() if path is not None else Path.cwd()
    file_home = as_str(cfg, "home", data["home"]) if "home" in data else DEFAULT_HOME
    given = str(home or read_deployment().home or "")
    # a path given by the environment or the caller is taken as it is (the shell already expanded it: a `$`
    # left in it is part of a folder's name); the file's paths expand `$VAR` and `~` (_path)
    home = Path.cwd() / given if given else _path(file_home, base)
    synthetic = as_mapping(cfg, "synthetic", data.get("synthetic") or {})
    refuse_unknown(cfg, synthetic, SYNTHETIC_KEYS, "synthetic.")
    scale = as_number(cfg, "synthetic.scale", synthetic.get("scale", DEFAULT_SYNTHETIC_SCALE), 0.0, 1.0, low_open=True)
    seed = as_int(cfg, "synthetic.seed", synthetic.get("seed", 0), 0, MAX_SEED)
    if home.exists() and not home.is_dir():
        key = "home" if "home" in data and not given else None
        raise InputError(
            f"the data directory {home} is a file",
            path if key else None,
            cfg.line(key) if key else None,
            hint="point home (or HANROCK_HOME) at a directory, or move the file away",
        )
    datasets = {name: DatasetConfig(name) for name in RAW_CORPORA}
    folded = {name.casefold(): name for name in RAW_CORPORA}
    for name, entry in as_mapping(cfg, "datasets", data.get("datasets") or {}).items():
        name = as_name(cfg, f"datasets.{name}", name, "dataset name")
        other = folded.setdefault(name.casefold(), name)
        if other != name:  # their folders, files and partition keys would collide on a case-insensitive disk
            raise cfg.error(
                f"datasets.{name}",
                f"datasets {other!r} and {name!r} differ only by case",
                hint="give each dataset a name that differs in more than case",
            )
        datasets[name] = _dataset(cfg, name, entry, base)
    return Settings(
        home=Home(home.resolve()),
        synthetic_scale=scale,
        synthetic_seed=seed,
        datasets=datasets,
        source=str(path) if path else "<defaults>",
        embeddings=parse_vector_spec(cfg, "embeddings", data.get("embeddings"), base),
    )


MIN_FREE_BYTES = 200 * 1024 * 1024  # a study writes studies, checkpoints and results: refuse to start below this


def check_data_directory(home: Home, min_free_bytes: int = MIN_FREE_BYTES) -> Home:
    """Fail early, with a clear message, when the data directory cannot be written or is nearly full."""
    import shutil
    import tempfile

    home = home if isinstance(home, Home) else Home(home)
    try:
        home.root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=home.root, prefix=".write-probe-"):
            pass
    except OSError as exc:
        raise InputError(
            f"the data directory cannot be written: {exc.strerror or exc}",
            home.root,
            hint="set HANROCK_HOME (or `home` in the settings) to a writable directory",
        ) from exc
    free = shutil.disk_usage(home.root).free
    if free < min_free_bytes:
        raise InputError(
            f"only {free / 2**20:.0f} MiB free in the data directory (need {min_free_bytes / 2**20:.0f} MiB)",
            home,
            hint="free some space or point HANROCK_HOME at a larger disk",
        )
    return home
