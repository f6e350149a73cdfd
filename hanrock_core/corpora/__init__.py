"""Corpus readers: each turns a corpus on disk into the canonical talkturn table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..notices import Notices
from .byo import read_byo, read_byo_file
from .iemocap import read_iemocap
from .semaine import read_semaine

RAW_CORPORA = ("iemocap", "semaine")


def read_corpus(
    corpus: str,
    root: str | Path,
    spec: str | Path | None = None,
    split_file: str | Path | None = None,
    openface_dir: str | Path | None = None,
    vokaturi_csv: str | Path | None = None,
    openface_fps: float | None = None,
    notices: Notices | None = None,
) -> pd.DataFrame:
    """Read `corpus` (iemocap, semaine, or byo with a dataset spec) into the talkturn table.

    What the read leaves out (skipped sessions, unlabelled roles, absent preprocessing files) goes to `notices`.
    """
    if corpus == "byo":
        if spec is None:
            raise InputError("a bring-your-own dataset needs --spec SPEC.yaml", root)
        extra = {
            "--splits": split_file,
            "--openface": openface_dir,
            "--vokaturi": vokaturi_csv,
            "--openface-fps": openface_fps,
        }
        given = [flag for flag, value in extra.items() if value is not None]
        if given:
            raise InputError(
                f"{', '.join(given)} cannot be used with a bring-your-own dataset",
                spec,
                hint="the spec's files: and features: say where its splits and features are",
            )
        return read_byo(spec, root)
    readers = {"iemocap": read_iemocap, "semaine": read_semaine}
    if corpus not in readers:
        raise InputError(f"unknown corpus {corpus!r}; choose iemocap, semaine or byo")
    if spec is not None:
        raise InputError(f"--spec is for bring-your-own datasets; {corpus} is read from its release layout", spec)
    return readers[corpus](
        root,
        split_file=split_file,
        openface_dir=openface_dir,
        vokaturi_csv=vokaturi_csv,
        openface_fps=openface_fps,
        notices=notices,
    )


__all__ = ["RAW_CORPORA", "read_byo", "read_byo_file", "read_corpus", "read_iemocap", "read_semaine"]
