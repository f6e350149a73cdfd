"""Bring-your-own talkturn tables: CSV or Parquet files per split described by a YAML spec.

The spec names which columns hold text, speaker, dialogue id (one or several columns), order,
labels, optional times and features; docs/bring-your-own.md describes every key and
`examples/emorynlp/dataset.yaml` is a working example on a real public corpus.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hanrock_core.base.config_file import (
    ConfigFile,
    as_bool,
    as_mapping,
    as_metric,
    as_name,
    as_str,
    read_config,
    refuse_unknown,
)
from hanrock_core.base.errors import InputError
from hanrock_core.base.input_files import REPLACEMENT, numbers, read_csv_file, refuse_empty_table
from hanrock_core.base.notices import Notices, ensure
from hanrock_core.reading.layouts import ReadingOptions
from hanrock_core.reading.splits import check_speakers_disjoint
from hanrock_core.reading.talkturn import COLUMN_BY_NAME, FEATURES, SPLITS, finalise_table

SPEC_KEYS = {
    "name",
    "description",
    "files",
    "columns",
    "labels",
    "features",
    "speaker_format",
    "time_format",
    "speaker_noun",
    "speaker_disjoint",
    "ids",
}
COLUMN_KEYS = {"text", "speaker", "dialogue", "order", "session", "utterance_id", "start", "end"}
REQUIRED_COLUMN_KEYS = ("text", "speaker", "dialogue", "order")
MULTI_COLUMN_KEYS = {"dialogue", "session", "utterance_id"}  # may join several columns with `_`
LABEL_KEYS = {"column", "type", "metric"}
LABEL_TYPES = ("class", "regression")
# `ids: file` (default): dialogue ids (and generated utterance ids) count within their file, as in
# corpora whose Dialogue_ID restarts at 0 in every split; `global`: the same id in two files is one dialogue
CHOICES = {"speaker_format": ("plain", "list"), "time_format": ("seconds", "hms"), "ids": ("file", "global")}


@dataclass
class DatasetSpec:
    """A parsed dataset spec; `lines` maps a dotted key to its line in the spec file."""

    path: Path
    name: str
    files: dict[str, str]
    columns: dict[str, str | list[str]]
    labels: dict[str, dict]
    features: dict[str, str] = field(default_factory=dict)
    speaker_format: str = "plain"
    time_format: str = "seconds"
    speaker_noun: str = "speaker"
    speaker_disjoint: bool = True
    ids: str = "file"
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, key: str) -> int | None:
        return self.lines.get(key)


def _files(cfg: ConfigFile, files: dict) -> dict[str, str]:
    """Split -> relative path; all three splits, distinct files, none leaving the data root."""
    refuse_unknown(cfg, files, SPLITS, "files.")
    missing = [p for p in SPLITS if p not in files]
    if missing:
        raise cfg.error(
            "files",
            f"files names no {' or '.join(missing)} file: every split needs talkturns",
            hint="split your data by dialogue (or session) into train, dev and test files",
        )
    out, seen = {}, {}
    for part in SPLITS:
        key = f"files.{part}"
        rel = as_str(cfg, key, files[part])
        norm = os.path.normpath(rel)
        if Path(rel).is_absolute() or norm == ".." or norm.startswith(".." + os.sep):
            raise cfg.error(
                key,
                f"{key} {rel!r} leaves the data root",
                hint="give paths relative to the data root (the folder given on the command line), without '..'",
            )
        if norm in seen:
            raise cfg.error(
                key, f"{key} is the same file as files.{seen[norm]} ({rel!r})", hint="each split needs its own file"
            )
        seen[norm] = part
        out[part] = rel
    return out


def _columns(cfg: ConfigFile, columns: dict) -> dict[str, str | list[str]]:
    refuse_unknown(cfg, columns, COLUMN_KEYS, "columns.")
    for key in REQUIRED_COLUMN_KEYS:
        if not columns.get(key):
            raise cfg.error("columns", f"columns.{key} is required")
    out = {}
    for key, value in columns.items():
        if value is None:
            continue
        if key in MULTI_COLUMN_KEYS and isinstance(value, list):
            if not value:
                raise cfg.error(f"columns.{key}", f"columns.{key} lists no column")
            out[key] = [as_str(cfg, f"columns.{key}", v) for v in value]
        else:
            out[key] = as_str(cfg, f"columns.{key}", value)
    return out


def _labels(cfg: ConfigFile, labels: dict) -> dict[str, dict]:
    if not labels:
        raise cfg.error("labels", "labels names no label", hint="add e.g. `emotion: {column: Emotion, type: class}`")
    out = {}
    for name, label in labels.items():
        key = f"labels.{name}"
        as_name(cfg, key, name, "label name")
        label = as_mapping(cfg, key, label)
        refuse_unknown(cfg, label, LABEL_KEYS, f"{key}.")
        if "column" not in label or label.get("type") not in LABEL_TYPES:
            raise cfg.error(key, f"label {name!r} needs 'column' and 'type: class|regression'")
        out[str(name)] = {
            "column": as_str(cfg, f"{key}.column", label["column"]),
            "type": label["type"],
            "metric": as_metric(cfg, f"{key}.metric", label.get("metric"), label["type"] == "class"),
        }
    return out


def load_spec(path: str | Path) -> DatasetSpec:
    """Parse and check a dataset spec; every mistake is reported with the spec's line."""
    cfg = read_config(path, "dataset spec")
    data = cfg.data
    refuse_unknown(cfg, data, SPEC_KEYS)
    for key in ("name", "files", "columns", "labels"):
        if key not in data:
            raise InputError(f"the spec lacks {key!r}", cfg.path, 1, hint="docs/bring-your-own.md lists every key")
    features = as_mapping(cfg, "features", data.get("features") or {})
    refuse_unknown(cfg, features, FEATURES, "features.")
    options = {}
    for key, allowed in CHOICES.items():
        value = data.get(key, allowed[0])
        if value not in allowed:
            raise cfg.error(key, f"{key} must be one of {list(allowed)}, not {value!r}")
        options[key] = value
    if "description" in data:
        as_str(cfg, "description", data["description"], allow_empty=True)
    return DatasetSpec(
        path=cfg.path,
        name=as_name(cfg, "name", data["name"], "dataset name"),
        files=_files(cfg, as_mapping(cfg, "files", data["files"])),
        columns=_columns(cfg, as_mapping(cfg, "columns", data["columns"])),
        labels=_labels(cfg, as_mapping(cfg, "labels", data["labels"])),
        features={k: as_str(cfg, f"features.{k}", v) for k, v in features.items()},
        speaker_noun=as_str(cfg, "speaker_noun", data.get("speaker_noun", "speaker")),
        speaker_disjoint=as_bool(cfg, "speaker_disjoint", data.get("speaker_disjoint", True)),
        lines=cfg.lines,
        **options,
    )


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _read_split_file(path: Path) -> pd.DataFrame:
    """One split file as text cells (CSV) or as stored (Parquet); no rows is an error."""
    if not os.path.lexists(path):
        raise InputError("data file not found", path, hint="check files: in the spec and the data root")
    if path.suffix.lower() == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - any Parquet failure is reported with the file name
            raise InputError(f"cannot read Parquet data file: {exc}", path) from None
    else:
        frame = read_csv_file(path, "data file", index_by_line=True, dtype=str, keep_default_na=False, na_values=[""])
    refuse_empty_table(frame, path, "data file")
    if path.suffix.lower() == ".parquet":
        frame.index = pd.Index(np.arange(2, len(frame) + 2), name="line")  # a row's number as a CSV's line would be
    return frame


def _line_at(values: pd.Series, mask) -> int:
    """The file line of the first row where `mask` holds (each row's index is its line)."""
    return int(values.index[int(np.flatnonzero(np.asarray(mask))[0])])


def _speaker(value: str, fmt: str) -> str:
    """A speaker cell; `list` format turns "['Ann', 'Bo']" into "Ann & Bo"."""
    if fmt == "plain":
        return str(value).strip()
    try:
        names = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return str(value).strip()
    if isinstance(names, (list, tuple)):
        return " & ".join(str(n).strip() for n in names)
    return str(names).strip()


def _refuse_blank(values: pd.Series, path: Path, column: str, what: str) -> None:
    """Empty or whitespace-only cells in a column that every talkturn needs."""
    blank = values.isna() | (values.astype("string").str.strip() == "")
    if blank.any():
        raise InputError(
            f"{what} is empty or only spaces",
            path,
            _line_at(values, blank.to_numpy()),
            column,
            hint=f"every talkturn needs a {what}",
        )


def _seconds(values: pd.Series, fmt: str, path: Path, column: str) -> np.ndarray:
    """Times as seconds from `seconds` numbers or `HH:MM:SS.fff` strings."""
    if fmt == "seconds":
        return numbers(values, path, column, "time", lines=values.index).to_numpy()
    parts = values.astype("string").str.strip().str.extract(r"^(\d+):(\d+):(\d+(?:[.,]\d+)?)$")
    secs = parts[2].str.replace(",", ".")
    out = (parts[0].astype(float) * 3600 + parts[1].astype(float) * 60 + secs.astype(float)).to_numpy(dtype=float)
    bad = np.isnan(out) & values.notna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"cannot read time {values.iloc[i]!r} as {fmt}", path, int(values.index[i]), column)
    return out


def _feature(values: pd.Series, name: str, path: Path, column: str) -> pd.Series:
    """A feature column in its canonical type: numbers, whole numbers, or 0/1/true/false flags."""
    dtype = COLUMN_BY_NAME[name].dtype
    if dtype != "boolean":
        return numbers(values, path, column, f"{name} value", integer=dtype == "Int64", lines=values.index)
    words = {"1": True, "1.0": True, "true": True, "0": False, "0.0": False, "false": False}
    text = values.astype("string").str.strip().str.lower()
    bad = text.notna() & (text != "") & ~text.isin(words)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{name} value {values.iloc[i]!r} is not 0/1 or true/false", path, int(values.index[i]), column
        )
    return text.map(words).astype("boolean")


# label cells that spreadsheets and pandas write for "no value": refused as class names (a class 'NaN' is a mistake)
MISSING_LABEL_TEXTS = ("NaN", "nan", "NA", "N/A", "n/a", "NULL", "null", "<NA>", "#N/A")


def _labels_of(raw: pd.DataFrame, spec: DatasetSpec, path: Path) -> dict[str, pd.Series]:
    out = {}
    for name, label in spec.labels.items():
        values = raw[label["column"]]
        marked = values.astype("string").str.strip().isin(MISSING_LABEL_TEXTS).fillna(False).to_numpy(dtype=bool)
        if label["type"] == "class" and marked.any():
            raise InputError(
                f"{int(marked.sum())} {name} labels are the text {values[marked].iloc[0]!r}, which would become a "
                "class of that name",
                path,
                _line_at(values, marked),
                label["column"],
                hint="leave the cell empty for a talkturn without a label",
            )
        if label["type"] == "regression":
            out[f"label_{name}"] = numbers(values, path, label["column"], "label value", lines=values.index)
        else:
            text = values.astype("string")
            blank = text.notna() & (text.str.strip() == "")
            if blank.any():
                raise InputError(
                    "label is only spaces",
                    path,
                    _line_at(values, blank.to_numpy()),
                    label["column"],
                    hint="leave the cell empty for a talkturn without a label",
                )
            out[f"label_{name}"] = text
    return out


def _split_table(spec: DatasetSpec, part: str, path: Path, labels_required: bool = True) -> pd.DataFrame:
    """One split file mapped onto talkturn columns (new talkturns to predict may leave the labels out); with
    `labels_required`, a file in which no talkturn has a label of some task is refused."""
    raw = _read_split_file(path)
    mapped = {k: _as_list(v) for k, v in spec.columns.items() if v}
    needed = {c: f"columns.{k}" for k, cols in mapped.items() for c in cols}
    if not labels_required:
        for label in spec.labels.values():
            if label["column"] not in raw.columns:
                raw[label["column"]] = pd.Series(pd.NA, index=raw.index, dtype="string")
    needed.update({lab["column"]: f"labels.{name}" for name, lab in spec.labels.items()})
    needed.update({col: f"features.{name}" for name, col in spec.features.items()})
    for column, key in needed.items():
        if column not in raw.columns:
            raise InputError(
                f"{key} names column {column!r}, which {path} does not have (it has {list(raw.columns)})",
                spec.path,
                spec.line(key),
            )
    for key in ("text", "speaker", "dialogue", "order", "session", "utterance_id"):
        for column in mapped.get(key, []):
            _refuse_blank(raw[column], path, column, key)
    text = raw[mapped["text"][0]].astype("string")
    if text.str.contains(REPLACEMENT, regex=False).any():
        i = int(np.flatnonzero(text.str.contains(REPLACEMENT, regex=False).to_numpy())[0])
        raise InputError(
            "text holds U+FFFD replacement characters: an earlier conversion lost the original characters",
            path,
            int(raw.index[i]),
            mapped["text"][0],
            hint="take the data from the original source again",
        )
    out = pd.DataFrame(index=raw.index)
    out["dataset"] = spec.name
    dialogue = raw[mapped["dialogue"]].astype(str).agg("_".join, axis=1)
    out["dialogue"] = f"{part}/" + dialogue if spec.ids == "file" else dialogue
    # a session the spec names is global (the check that no session spans two files needs it so)
    out["session"] = (
        raw[mapped["session"]].astype(str).agg("_".join, axis=1) if "session" in mapped else out["dialogue"]
    )
    order = numbers(raw[mapped["order"][0]], path, mapped["order"][0], "order value", integer=True, lines=raw.index)
    out["_order"] = order.to_numpy()
    if "utterance_id" in mapped:
        out["utterance_id"] = raw[mapped["utterance_id"]].astype(str).agg("_".join, axis=1)
    else:
        out["utterance_id"] = out["dialogue"] + "_" + order.astype("int64").astype(str)
    out["speaker"] = raw[mapped["speaker"][0]].map(lambda v: _speaker(v, spec.speaker_format))
    _refuse_blank(out["speaker"], path, mapped["speaker"][0], "speaker")
    out["speaker_noun"] = spec.speaker_noun
    out["text"] = text
    out["split"] = part
    for key, target in (("start", "start_s"), ("end", "end_s")):
        if key in mapped:
            out[target] = _seconds(raw[mapped[key][0]], spec.time_format, path, mapped[key][0])
    for column, values in _labels_of(raw, spec, path).items():
        if labels_required and values.isna().all():
            name = column.removeprefix("label_")
            raise InputError(
                f"no talkturn of the {part} split has a label for {name}: a study could not train, select or test a "
                "model on it",
                path,
                column=spec.labels[name]["column"],
                hint=f"fill labels.{name}.column in this file (empty cells mean no label)",
            )
        out[column] = values
    for name, column in spec.features.items():
        out[name] = _feature(raw[column], name, path, column)
    out["_line"] = raw.index.to_numpy()
    out["_file"] = str(path)
    return out


def _where(row: pd.Series) -> str:
    return f"{row['_file']}:{row['_line']}"


def _refuse_duplicates(table: pd.DataFrame) -> None:
    """Two talkturns with one utterance id: both places are named."""
    dup = table["utterance_id"].duplicated(keep=False)
    if dup.any():
        uid = table.loc[dup, "utterance_id"].iloc[0]
        first, second = (row for _, row in table[table["utterance_id"] == uid].head(2).iterrows())
        raise InputError(
            f"duplicate utterance id {uid!r} (also at {_where(first)})",
            second["_file"],
            int(second["_line"]),
            hint="make (dialogue, order) unique or map columns.utterance_id",
        )


def _refuse_label_variants(table: pd.DataFrame, spec: DatasetSpec) -> None:
    """Class labels that differ only by case or surrounding spaces would become separate classes."""
    for name, label in spec.labels.items():
        if label["type"] != "class":
            continue
        values = table[f"label_{name}"].dropna()
        counts = values.value_counts()
        variants: dict[str, list[str]] = {}
        for value in counts.index:
            variants.setdefault(str(value).strip().casefold(), []).append(value)
        clash = next((v for v in variants.values() if len(v) > 1), None)
        if clash:
            rare = min(clash, key=lambda v: counts[v])
            row = table[table[f"label_{name}"] == rare].iloc[0]
            listed = ", ".join(f"{v!r} ({counts[v]} rows)" for v in clash)
            raise InputError(
                f"label values {listed} differ only by case or surrounding spaces",
                row["_file"],
                int(row["_line"]),
                label["column"],
                hint="write each class exactly one way in every file",
            )


def _say_odd_labels_and_texts(table: pd.DataFrame, spec: DatasetSpec, notices: Notices) -> None:
    """Said, not refused: a number among word class labels (a slip that becomes a class of its own), and
    talkturns whose text holds no word (their model input is the narrative's frame alone)."""
    for name, label in spec.labels.items():
        values = table[f"label_{name}"].dropna().astype(str).str.strip()
        numeric = pd.to_numeric(values, errors="coerce").notna()
        if label["type"] == "class" and numeric.any() and not numeric.all():
            row = table.loc[numeric[numeric].index[0]]
            numbers = sorted(values[numeric].unique())
            notices.warn(
                f"class label {label['column']!r} holds number(s) {numbers[:5]} among word classes: each is read as a "
                f"class of its own ({int(numeric.sum())} row(s); this is the first)",
                row["_file"],
                int(row["_line"]),
            )
    wordless = ~table["text"].astype(str).str.contains(r"\w", regex=True)
    if wordless.any():
        row = table[wordless].iloc[0]
        notices.warn(
            f"{int(wordless.sum())} talkturn(s) hold no word (e.g. {row['text']!r}): they are kept, and their model "
            "input is the narrative's frame alone ('the speaker said'); this is the first",
            row["_file"],
            int(row["_line"]),
        )


def _refuse_single_class(table: pd.DataFrame, spec: DatasetSpec) -> None:
    """A class label with one class would train every model to a perfect dev score and teach nothing."""
    for name, label in spec.labels.items():
        if label["type"] != "class":
            continue
        classes = table[f"label_{name}"].dropna().unique()
        if len(classes) == 1:
            raise InputError(
                f"label {name!r} (column {label['column']!r}) has a single class, {classes[0]!r}, in "
                f"every labelled talkturn: a classifier needs at least two",
                spec.path,
                spec.line(f"labels.{name}"),
                hint=f"check that labels.{name}.column names the label column, or leave the label out",
            )


def read_byo_file(
    spec_path: str | Path, path: str | Path, split: str = "test", notices: Notices | None = None
) -> pd.DataFrame:
    """New talkturns in one file written like a spec's split files (columns, formats); labels optional.

    What `hanrock predict` reads: conversations a kept model has never seen, in the spec's format;
    they are held out, so their split is `test`."""
    spec = load_spec(spec_path)
    if not Path(path).is_file():
        raise InputError("data file not found", path, hint="give the CSV (or Parquet) file of new conversations")
    table = _split_table(spec, split, Path(path), labels_required=False)
    _refuse_duplicates(table)
    _say_odd_labels_and_texts(table, spec, ensure(notices))
    return _finalise(table, str(path))


def read_byo(
    spec_path: str | Path, root: str | Path | None = None, require_labels: bool = True, notices: Notices | None = None
) -> pd.DataFrame:
    """Read a bring-your-own dataset: file paths in the spec are relative to `root` (default: the spec's folder)."""
    spec = load_spec(spec_path)
    base = Path(root) if root is not None else spec.path.parent
    if not base.is_dir():
        raise InputError("data root is not a directory", base)
    parts = [_split_table(spec, part, base / rel, require_labels) for part, rel in spec.files.items()]
    table = pd.concat(parts, ignore_index=True)
    _refuse_duplicates(table)
    _refuse_label_variants(table, spec)
    _refuse_single_class(table, spec)
    _say_odd_labels_and_texts(table, spec, ensure(notices))
    sessions = table.groupby("session")["split"].nunique()
    if (sessions > 1).any():
        session = sessions[sessions > 1].index[0]
        files = sorted(table.loc[table["session"] == session, "_file"].unique())
        raise InputError(
            f"session {session!r} appears in several split files: {files}",
            spec.path,
            spec.line("files"),
            hint="keep each session (columns.session, default the dialogue) in one file",
        )
    if spec.speaker_disjoint:
        check_speakers_disjoint(table, str(spec.path))
    return _finalise(table, str(spec.path))


def _finalise(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """Talkturn order from the order column within each dialogue, the helper columns dropped, then the table checks."""
    table["turn_index"] = table.groupby("dialogue")["_order"].rank(method="first").astype(int) - 1
    return finalise_table(table.drop(columns=["_order", "_line", "_file"]), source)


def read_byo_layout(root: str | Path, options: ReadingOptions, notices: Notices, require_labels: bool) -> pd.DataFrame:
    """The bring-your-own layout's entry point (`layouts.LAYOUTS`): the spec says where everything is."""
    return read_byo(options.spec, root, require_labels=require_labels, notices=notices)
