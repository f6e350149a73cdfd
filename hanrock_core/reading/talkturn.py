"""The canonical talkturn table: one row per talkturn, the common currency of every reader.

Every corpus reader (IEMOCAP, SEMAINE, bring-your-own) ends in `finalise_table`, which orders the
talkturns, derives the prosody numbers that need neighbouring talkturns (words per minute, delay),
fills the optional columns with missing values and validates the result.  `docs/talkturn-table.md`
documents the columns; `COLUMNS` below is the single source of truth for names and types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hanrock_core.base.errors import InputError

SPLITS = ("train", "dev", "test")
LABEL_PREFIX = "label_"


@dataclass(frozen=True)
class Column:
    """One column of the talkturn table."""

    name: str
    dtype: str  # pandas dtype name: "string", "Int64", "float64", "boolean"
    required: bool
    description: str


COLUMNS: tuple[Column, ...] = (
    Column("dataset", "string", True, "dataset name, e.g. iemocap, semaine, emorynlp"),
    Column("session", "string", True, "recording session; the unit that is assigned to a split"),
    Column("dialogue", "string", True, "conversation id; content context never crosses it"),
    Column("turn_index", "Int64", True, "0-based order of the talkturn within its dialogue"),
    Column("utterance_id", "string", True, "unique id of the talkturn within the dataset"),
    Column("speaker", "string", True, "speaker id, unique within the dataset"),
    Column("speaker_noun", "string", True, "word the narrative uses for the speaker: woman, man, user, ..."),
    Column("start_s", "float64", False, "start time in seconds on the dialogue's clock"),
    Column("end_s", "float64", False, "end time in seconds on the dialogue's clock"),
    Column("text", "string", True, "verbatim transcript of the talkturn"),
    Column("split", "string", True, "train, dev or test"),
    # nonverbal features (missing where the preprocessing output is absent)
    Column(
        "au05_r", "float64", False, "mean OpenFace AU05 (upper lid raiser) intensity over the talkturn's frames, 0..5"
    ),
    Column("au17_r", "float64", False, "mean AU17 (chin raiser) intensity, 0..5"),
    Column("au20_r", "float64", False, "mean AU20 (lip stretcher) intensity, 0..5"),
    Column("au25_r", "float64", False, "mean AU25 (lips part / jaw drop) intensity, 0..5"),
    Column("au05_c", "boolean", False, "AU05 present in every valid frame of the talkturn"),
    Column("au17_c", "boolean", False, "AU17 present in every valid frame"),
    Column("au20_c", "boolean", False, "AU20 present in every valid frame"),
    Column("au25_c", "boolean", False, "AU25 present in every valid frame"),
    Column("smile", "boolean", False, "an AU06_c and AU12_c run of >= 0.5 s inside the talkturn"),
    Column("positive_expression", "boolean", False, "AU12_c present in every valid frame"),
    Column("head_nod", "boolean", False, "head nod detected from the nose landmark y_30 (optional)"),
    Column("lean_forward", "boolean", False, "speaker moved towards the camera, pose_Tz (optional)"),
    Column("openface_frames", "Int64", False, "number of valid OpenFace frames inside the talkturn"),
    Column("tone_neutrality", "float64", False, "Vokaturi probability of a neutral tone"),
    Column("tone_happiness", "float64", False, "Vokaturi probability of a happy tone"),
    Column("tone_sadness", "float64", False, "Vokaturi probability of a sad tone"),
    Column("tone_anger", "float64", False, "Vokaturi probability of an angry tone"),
    Column("tone_fear", "float64", False, "Vokaturi probability of a fearful tone"),
    Column("words_per_minute", "float64", False, "words * 60 / duration"),
    Column(
        "delay_s",
        "float64",
        False,
        "seconds from the end of this talkturn to the start of the other speaker's next talkturn",
    ),
)
COLUMN_BY_NAME = {c.name: c for c in COLUMNS}
REQUIRED = tuple(c.name for c in COLUMNS if c.required)
_FIRST_FEATURE = [c.name for c in COLUMNS].index("split") + 1  # identity and text come first, then features
FEATURES = tuple(c.name for c in COLUMNS[_FIRST_FEATURE:])
AU_NAMES = ("au05", "au17", "au20", "au25")
TONES = ("neutrality", "happiness", "sadness", "anger", "fear")

# words in any script: a run of letters or digits (an inner apostrophe kept), and each kana or Han character,
# since Chinese and Japanese are written without spaces between words; emoji and punctuation are no words
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:'[^\W_{_CJK}]+)*")
# faster than anyone speaks (auctioneers reach about 400): the talkturn's start or end time is wrong
MAX_PLAUSIBLE_WPM = 600.0


def label_columns(table: pd.DataFrame) -> list[str]:
    """The label (primary-task) columns of a talkturn table, in table order."""
    return [c for c in table.columns if c.startswith(LABEL_PREFIX)]


def is_class_label(series: pd.Series) -> bool:
    """Class labels are stored as strings, regression labels as floats."""
    return not pd.api.types.is_numeric_dtype(series)


def count_words(text: pd.Series) -> np.ndarray:
    """Number of words per talkturn, in any script (see `_WORD`)."""
    return text.fillna("").map(lambda s: len(_WORD.findall(s))).to_numpy(dtype=float)


def words_per_minute(table: pd.DataFrame) -> pd.Series:
    """Speaking rate, words * 60 / duration; missing where times are missing or duration <= 0."""
    duration = table["end_s"] - table["start_s"]
    wpm = count_words(table["text"]) * 60.0 / duration.where(duration > 0)
    return wpm.astype("float64")


def delay_to_other_speaker(table: pd.DataFrame) -> pd.Series:
    """Gap from each talkturn's end to the next talkturn of a different speaker in its dialogue.

    Missing where no other speaker talks later in the dialogue or times are missing.  Negative
    values (overlapping speech) are kept as they are: the narrative only writes delays >= 200 ms.
    """
    out = np.full(len(table), np.nan)
    speakers_all = table["speaker"].to_numpy()
    starts_all = table["start_s"].to_numpy(dtype=float, na_value=np.nan)
    ends_all = table["end_s"].to_numpy(dtype=float, na_value=np.nan)
    for idx in table.groupby("dialogue", sort=False).indices.values():
        idx = np.sort(idx)
        speakers, starts, ends = speakers_all[idx], starts_all[idx], ends_all[idx]
        # position of the first later talkturn by someone else; a run of talkturns by one
        # speaker shares it, so one backwards pass suffices
        next_other = -1
        for j in range(len(idx) - 2, -1, -1):
            if speakers[j + 1] != speakers[j]:
                next_other = j + 1
            if next_other != -1:
                out[idx[j]] = starts[next_other] - ends[j]
    return pd.Series(out, index=table.index, dtype="float64")


def unlabelled_splits(table: pd.DataFrame) -> list[tuple[str, str]]:
    """(label column, split) pairs where the split has talkturns but none of them has that label."""
    out = []
    for name in label_columns(table):
        for part in SPLITS:
            rows = table["split"] == part
            if rows.any() and table.loc[rows, name].isna().all():
                out.append((name, part))
    return out


def classes_unseen_in_train(table: pd.DataFrame) -> list[tuple[str, str, dict[str, int]]]:
    """(label column, class, {split: talkturns}) for each class of dev or test that no train talkturn has:
    no model can learn it, and every such talkturn is an error of every model (never a row left out)."""
    out = []
    for name in label_columns(table):
        if not is_class_label(table[name]):
            continue
        seen = set(table.loc[table["split"] == "train", name].dropna())
        counts = table[table["split"] != "train"].groupby([name, "split"]).size()
        for value in sorted(set(counts.index.get_level_values(0)) - seen):
            out.append((name, str(value), {str(k): int(v) for k, v in counts.loc[value].items() if v}))
    return out


def implausibly_fast(table: pd.DataFrame) -> pd.DataFrame:
    """Talkturns spoken faster than MAX_PLAUSIBLE_WPM: their times are wrong (or the text is not theirs)."""
    return table[table["words_per_minute"] > MAX_PLAUSIBLE_WPM]


def missing_column(name: str, index: pd.Index) -> pd.Series:
    """An all-missing column of the schema's type (NaN for floats, <NA> otherwise)."""
    dtype = COLUMN_BY_NAME[name].dtype
    return pd.Series(np.nan if dtype == "float64" else pd.NA, index=index, dtype=dtype)


def finalise_table(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """Order, derive, type and validate a reader's output into the canonical talkturn table.

    `source` names the corpus root or spec in error messages.
    """
    table = table.copy()
    for col in COLUMNS:
        if col.name not in table.columns:
            table[col.name] = missing_column(col.name, table.index)
    if "turn_index" not in table or table["turn_index"].isna().all():
        raise InputError("talkturn order is missing", source, hint="give each talkturn an order within its dialogue")
    table = table.sort_values(["dialogue", "turn_index"], kind="stable").reset_index(drop=True)
    table["turn_index"] = table.groupby("dialogue", sort=False).cumcount()
    if table["words_per_minute"].isna().all():
        table["words_per_minute"] = words_per_minute(table)
    if table["delay_s"].isna().all():
        table["delay_s"] = delay_to_other_speaker(table)
    for col in COLUMNS:
        table[col.name] = table[col.name].astype(col.dtype)
    labels = label_columns(table)
    for name in labels:
        table[name] = table[name].astype("string" if is_class_label(table[name]) else "float64")
    base = [c.name for c in COLUMNS]
    extra = [c for c in table.columns if c not in base and c not in labels]
    table = table[base[:_FIRST_FEATURE] + labels + base[_FIRST_FEATURE:] + extra]  # labels before features
    validate_table(table, source)
    return table


def validate_table(table: pd.DataFrame, source: str) -> None:
    """Check the invariants every consumer relies on; raise InputError naming the offender."""
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise InputError(f"talkturn table lacks required columns {missing}", source)
    if len(table) == 0:
        raise InputError("the corpus has no talkturns", source, hint="check the corpus root and layout")
    for name in REQUIRED:
        nulls = table[name].isna()
        if nulls.any():
            row = table.loc[nulls].iloc[0]
            raise InputError(
                f"{int(nulls.sum())} talkturns have no {name} (first: utterance {row.get('utterance_id')!r})",
                source,
                column=name,
            )
    dup = table["utterance_id"].duplicated(keep=False)
    if dup.any():
        ids = sorted(table.loc[dup, "utterance_id"].unique())[:5]
        raise InputError(f"duplicate utterance ids {ids}", source, column="utterance_id")
    bad = ~table["split"].isin(SPLITS)
    if bad.any():
        raise InputError(
            f"unknown split {table.loc[bad, 'split'].iloc[0]!r}; use train, dev or test", source, column="split"
        )
    timed = table["start_s"].notna() & table["end_s"].notna()
    backwards = timed & (table["end_s"] < table["start_s"])
    if backwards.any():
        row = table.loc[backwards].iloc[0]
        raise InputError(f"utterance {row['utterance_id']!r} ends before it starts", source, column="end_s")


def label_summaries(table: pd.DataFrame) -> dict[str, str]:
    """label column -> its distribution in words: class counts, or labelled rows, mean, sd and range."""
    out = {}
    for name in label_columns(table):
        col = table[name]
        if is_class_label(col):
            counts = col.value_counts(dropna=False)
            out[name] = ", ".join(f"{'(none)' if pd.isna(k) else k} {v:,}" for k, v in counts.items())
        else:
            out[name] = (
                f"{col.notna().sum():,} labelled, mean {col.mean():.3f}, sd {col.std():.3f}, "
                f"range [{col.min():.3f}, {col.max():.3f}]"
            )
    return out


def summarise(table: pd.DataFrame) -> str:
    """A human-readable summary: talkturns and dialogues per split, labels, feature coverage."""
    lines = [
        f"dataset {table['dataset'].iloc[0]}: {len(table):,} talkturns in {table['dialogue'].nunique():,} dialogues"
    ]
    lines.append(f"{'split':<10}{'talkturns':>10}{'dialogues':>10}{'sessions':>10}{'speakers':>10}")
    for part in SPLITS:
        sub = table[table["split"] == part]
        lines.append(
            f"{part:<10}{len(sub):>10,}{sub['dialogue'].nunique():>10,}{sub['session'].nunique():>10,}{sub['speaker'].nunique():>10,}"
        )
    lines += [f"{name}: {text}" for name, text in label_summaries(table).items()]
    coverage = [f"{name} {table[name].notna().mean():.0%}" for name in FEATURES]
    lines.append("feature coverage: " + ", ".join(coverage))
    return "\n".join(lines)
