"""Corpus readers: each turns a corpus on disk into the canonical talkturn table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hanrock_core.base.errors import InputError
from hanrock_core.base.notices import Notices, ensure
from hanrock_core.reading.corpora.byo import read_byo, read_byo_file
from hanrock_core.reading.corpora.iemocap import read_iemocap
from hanrock_core.reading.corpora.semaine import read_semaine
from hanrock_core.reading.layouts import LAYOUTS, SYNTHETIC_LAYOUTS, ReadingOptions, layout
from hanrock_core.reading.talkturn import (
    LABEL_PREFIX,
    MAX_PLAUSIBLE_WPM,
    classes_unseen_in_train,
    implausibly_fast,
    unlabelled_splits,
)

RAW_CORPORA = SYNTHETIC_LAYOUTS  # the layouts the embedded synthetic corpus exists in (built-in datasets)


def read_corpus(
    corpus: str,
    root: str | Path,
    options: ReadingOptions = ReadingOptions(),
    notices: Notices | None = None,
    require_labels: bool = True,
) -> pd.DataFrame:
    """Read `root`, a corpus in layout `corpus` (`layouts.LAYOUTS`), into the talkturn table.

    `options` are the reading options the layout takes (any other is refused). What the read leaves out
    (skipped sessions, unlabelled roles, absent preprocessing files) goes to `notices`, and so does what
    would mislead a study (a class no train talkturn has, impossible speaking rates). With `require_labels`
    (a corpus to study; not new talkturns to predict) a split without any label of a task is refused: a
    model cannot be trained, selected or tested on it.
    """
    notices = ensure(notices)
    chosen = layout(corpus, root)
    chosen.check(options, root)
    table = chosen.reader()(root, options, notices, require_labels)
    if require_labels:
        for column, split in unlabelled_splits(table):
            raise InputError(
                f"no talkturn of the {split} split has a label for {column.removeprefix(LABEL_PREFIX)}: a study "
                "could not train, select or test a model on it",
                options.spec or options.splits or root,
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


__all__ = [
    "LAYOUTS",
    "RAW_CORPORA",
    "ReadingOptions",
    "layout",
    "read_byo",
    "read_byo_file",
    "read_corpus",
    "read_iemocap",
    "read_semaine",
]
