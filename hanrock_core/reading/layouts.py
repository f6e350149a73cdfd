"""The corpus layouts the platform reads, declared once, and the reading options that travel to a reader.

A dataset names its layout (`corpus:` in the settings, `hanrock load LAYOUT`), never by its own name:
two datasets may share one layout. A layout says which reader reads it, which reading options it
takes, whether the embedded synthetic corpus exists in it, and its primary tasks with their kinds
(a bring-your-own layout leaves tasks to its spec). Importing this module loads no reader (the
command line stays fast); `reader()` loads one when it is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from hanrock_core.base.errors import InputError


@dataclass(frozen=True)
class ReadingOptions:
    """How one corpus folder is read, from a dataset's settings entry or the command line's flags."""

    spec: Path | None = None  # a bring-your-own dataset spec (YAML)
    splits: Path | None = None  # a split file instead of the layout's default split
    openface: Path | None = None  # OpenFace CSVs instead of ROOT/preprocessing/openface
    vokaturi: Path | None = None  # a Vokaturi CSV instead of the layout's default
    openface_fps: float | None = None  # rebuild OpenFace timestamps (only for image-folder runs)

    def given(self) -> list[str]:
        """The options set, by name."""
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]


# an option's name where a user gives it: the command line's flag (the settings key is the field name)
FLAGS = {
    "spec": "--spec",
    "splits": "--splits",
    "openface": "--openface",
    "vokaturi": "--vokaturi",
    "openface_fps": "--openface-fps",
}


@dataclass(frozen=True)
class Layout:
    """One corpus layout: its reader (`module:function`), the options it takes, its tasks and kinds."""

    name: str
    reader_path: str  # called as reader(root, options, notices, require_labels)
    options: tuple[str, ...]  # the ReadingOptions fields it accepts
    tasks: dict[str, bool] | None  # primary task -> is it classification; None: the dataset's spec says
    what: str  # how a message names a dataset in it
    synthetic: bool = False  # the embedded synthetic corpus exists in this layout
    hint: str = ""  # where its options are said instead, for a refused option

    def reader(self) -> Callable:
        module, _, function = self.reader_path.partition(":")
        return getattr(importlib.import_module(module), function)

    def check(self, options: ReadingOptions, source: Path | str | None) -> None:
        """Refuse an option this layout does not take, and a missing spec where it needs one."""
        if "spec" in self.options and options.spec is None:
            raise InputError(f"{self.what} needs --spec SPEC.yaml", source)
        refused = [FLAGS[name] for name in options.given() if name not in self.options]
        if refused:
            raise InputError(
                f"{', '.join(refused)} cannot be used with {self.what}",
                options.spec or source,
                hint=self.hint or f"the {self.name} layout takes {', '.join(FLAGS[o] for o in self.options)}",
            )


_RELEASE_OPTIONS = ("splits", "openface", "vokaturi", "openface_fps")
LAYOUTS: dict[str, Layout] = {
    "iemocap": Layout(
        "iemocap",
        "hanrock_core.reading.corpora.iemocap:read_iemocap_layout",
        _RELEASE_OPTIONS,
        {"emotion": True, "valence": False, "activation": False, "dominance": False},
        "a dataset in the IEMOCAP release layout",
        synthetic=True,
        hint="--spec is for bring-your-own datasets; iemocap is read from its release layout",
    ),
    "semaine": Layout(
        "semaine",
        "hanrock_core.reading.corpora.semaine:read_semaine_layout",
        _RELEASE_OPTIONS,
        {"activation": False, "intensity": False, "power": False, "valence": False},
        "a dataset in the SEMAINE release layout",
        synthetic=True,
        hint="--spec is for bring-your-own datasets; semaine is read from its release layout",
    ),
    "byo": Layout(
        "byo",
        "hanrock_core.reading.corpora.byo:read_byo_layout",
        ("spec",),
        None,
        "a bring-your-own dataset",
        hint="the spec's files: and features: say where its splits and features are",
    ),
}
SYNTHETIC_LAYOUTS = tuple(name for name, layout in LAYOUTS.items() if layout.synthetic)


def layout(name: str, source: Path | str | None = None) -> Layout:
    """The layout called `name`, or an error that lists them."""
    if name not in LAYOUTS:
        raise InputError(f"unknown corpus layout {name!r}; choose {', '.join(LAYOUTS)}", source)
    return LAYOUTS[name]
