"""Corpus readers: each turns a corpus on disk into the canonical talkturn table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import InputError
from .byo import read_byo
from .iemocap import read_iemocap
from .semaine import read_semaine

RAW_CORPORA = ("iemocap", "semaine")


def read_corpus(
    corpus: str,
    root: str | Path,
    spec: str | Path | None = None,
    partition_file: str | Path | None = None,
    openface_dir: str | Path | None = None,
    vokaturi_csv: str | Path | None = None,
) -> pd.DataFrame:
    """Read `corpus` (iemocap, semaine, or byo with a dataset spec) into the talkturn table."""
    if corpus == "byo":
        if spec is None:
            raise InputError("a bring-your-own dataset needs --spec SPEC.yaml", root)
        return read_byo(spec, root)
    readers = {"iemocap": read_iemocap, "semaine": read_semaine}
    if corpus not in readers:
        raise InputError(f"unknown corpus {corpus!r}; choose iemocap, semaine or byo")
    return readers[corpus](root, partition_file=partition_file, openface_dir=openface_dir, vokaturi_csv=vokaturi_csv)


__all__ = ["RAW_CORPORA", "read_byo", "read_corpus", "read_iemocap", "read_semaine"]
