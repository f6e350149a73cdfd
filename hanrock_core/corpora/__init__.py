"""Corpus readers: each turns a corpus on disk into the canonical talkturn table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..notices import Notices, ensure
from ..talkturn import LABEL_PREFIX, MAX_PLAUSIBLE_WPM, classes_unseen_in_train, implausibly_fast, unlabelled_splits
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
    require_labels: bool = True,
) -> pd.DataFrame:
    """Read `corpus` (iemocap, semaine, or byo with a dataset spec) into the talkturn table.

    What the read leaves out (skipped sessions, unlabelled roles, absent preprocessing files) goes to `notices`,
    and so does what would mislead a study (a class no train talkturn has, impossible speaking rates).  With
    `require_labels` (a corpus to study; not new talkturns to predict) a split without any label of a task
    is refused: a model cannot be trained, selected or tested on it.
    """
    notices = ensure(notices)
    table = _read(corpus, root, spec, split_file, openface_dir, vokaturi_csv, openface_fps, notices, require_labels)
    if require_labels:
        for column, split in unlabelled_splits(table):
            raise InputError(
                f"no talkturn of the {split} split has a label for {column.removeprefix(LABEL_PREFIX)}: a study "
                "could not train, select or test a model on it",
                spec or split_file or root,
                column=column,
                hint="check the label column and the split assignment (or leave the task out)",
            )
    for column, value, counts in classes_unseen_in_train(table):
        where = ", ".join(f"{n} {split}" for split, n in counts.items())
        notices.warn(
            f"class {value!r} of {column} has talkturns in {where} but none in train: no model can learn it; "
            "they stay in every metric as errors of every model"
        )
    fast = implausibly_fast(table)
    if len(fast):
        first = fast.loc[fast["words_per_minute"].idxmax()]
        notices.warn(
            f"{len(fast)} talkturns are spoken faster than {MAX_PLAUSIBLE_WPM:.0f} words per minute (fastest: "
            f"{first['utterance_id']}, {first['words_per_minute']:,.0f}): their start or end times are probably "
            "wrong, and their narratives will say 'very quickly'"
        )
    return table


def _read(corpus, root, spec, split_file, openface_dir, vokaturi_csv, openface_fps, notices, require_labels):
    """The reader of `corpus`, with the options it takes (any other is refused)."""
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
        return read_byo(spec, root, require_labels=require_labels)
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
