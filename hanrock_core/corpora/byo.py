"""Bring-your-own talkturn tables: CSV or Parquet files per partition described by a YAML spec.

The spec names which columns hold text, speaker, dialogue id (one or several columns), order,
labels, optional times and features; docs/bring-your-own.md describes every key and
`examples/emorynlp/dataset.yaml` is a working example on a real public corpus.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..errors import InputError
from ..talkturn import FEATURES, PARTITIONS, finalise_table
from ..partitions import check_speakers_disjoint

SPEC_KEYS = {"name", "description", "files", "columns", "labels", "features", "speaker_format",
             "time_format", "speaker_noun", "speaker_disjoint"}
COLUMN_KEYS = {"text", "speaker", "dialogue", "order", "session", "utterance_id", "start", "end"}
REQUIRED_COLUMN_KEYS = ("text", "speaker", "dialogue", "order")


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
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, key: str) -> int | None:
        return self.lines.get(key)


def _key_lines(node: yaml.Node, prefix: str = "", out: dict | None = None) -> dict[str, int]:
    """Dotted key path -> 1-based line, for error messages that point into the spec."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = f"{prefix}{k.value}"
            out[key] = k.start_mark.line + 1
            _key_lines(v, key + ".", out)
    return out


def load_spec(path: str | Path) -> DatasetSpec:
    """Parse and check a dataset spec; unknown or missing keys are reported with their line."""
    path = Path(path)
    try:
        text = path.read_text()
        data = yaml.safe_load(text)
        lines = _key_lines(yaml.compose(text))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read dataset spec: {exc}", path) from exc
    if not isinstance(data, dict):
        raise InputError("a dataset spec is a YAML mapping", path, 1)
    for key in data:
        if key not in SPEC_KEYS:
            raise InputError(f"unknown key {key!r}; known keys: {sorted(SPEC_KEYS)}", path, lines.get(key))
    for key in ("name", "files", "columns", "labels"):
        if key not in data:
            raise InputError(f"the spec lacks {key!r}", path, 1)
    columns = data["columns"] or {}
    for key in columns:
        if key not in COLUMN_KEYS:
            raise InputError(f"unknown columns key {key!r}; known: {sorted(COLUMN_KEYS)}", path, lines.get(f"columns.{key}"))
    for key in REQUIRED_COLUMN_KEYS:
        if not columns.get(key):
            raise InputError(f"columns.{key} is required", path, lines.get("columns"))
    for part in data["files"]:
        if part not in PARTITIONS:
            raise InputError(f"unknown partition {part!r} under files", path, lines.get(f"files.{part}"))
    for feat in data.get("features") or {}:
        if feat not in FEATURES:
            raise InputError(f"unknown feature {feat!r}; known: {list(FEATURES)}", path, lines.get(f"features.{feat}"))
    for name, label in data["labels"].items():
        if not isinstance(label, dict) or "column" not in label or label.get("type") not in ("class", "regression"):
            raise InputError(f"label {name!r} needs 'column' and 'type: class|regression'", path, lines.get(f"labels.{name}"))
    spec = DatasetSpec(
        path=path,
        name=str(data["name"]),
        files={k: str(v) for k, v in data["files"].items()},
        columns=columns,
        labels=data["labels"],
        features=data.get("features") or {},
        speaker_format=data.get("speaker_format", "plain"),
        time_format=data.get("time_format", "seconds"),
        speaker_noun=data.get("speaker_noun", "speaker"),
        speaker_disjoint=bool(data.get("speaker_disjoint", True)),
        lines=lines,
    )
    if spec.speaker_format not in ("plain", "list"):
        raise InputError("speaker_format must be 'plain' or 'list'", path, lines.get("speaker_format"))
    if spec.time_format not in ("seconds", "hms"):
        raise InputError("time_format must be 'seconds' or 'hms'", path, lines.get("time_format"))
    return spec


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _read_partition_file(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError("data file not found", path)
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except Exception as exc:  # noqa: BLE001 - any parser failure is reported with the file name
        raise InputError(f"cannot read data file: {exc}", path) from exc


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


def _seconds(values: pd.Series, fmt: str, path: Path, column: str) -> np.ndarray:
    """Times as seconds from `seconds` numbers or `HH:MM:SS.fff` strings."""
    if fmt == "seconds":
        out = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    else:
        parts = values.astype("string").str.extract(r"^(\d+):(\d+):(\d+(?:[.,]\d+)?)$")
        secs = parts[2].str.replace(",", ".")
        out = (parts[0].astype(float) * 3600 + parts[1].astype(float) * 60 + secs.astype(float)).to_numpy(dtype=float)
    bad = np.isnan(out) & values.notna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"cannot read time {values.iloc[i]!r} as {fmt}", path, i + 2, column)
    return out


def _partition_table(spec: DatasetSpec, part: str, path: Path) -> pd.DataFrame:
    """One partition file mapped onto talkturn columns."""
    raw = _read_partition_file(path)
    mapped = {k: _as_list(v) for k, v in spec.columns.items() if v}
    needed = {c: f"columns.{k}" for k, cols in mapped.items() for c in cols}
    needed.update({lab["column"]: f"labels.{name}" for name, lab in spec.labels.items()})
    needed.update({col: f"features.{name}" for name, col in spec.features.items()})
    for column, key in needed.items():
        if column not in raw.columns:
            raise InputError(
                f"{key} names column {column!r}, which {path} does not have (it has {list(raw.columns)})",
                spec.path, spec.line(key),
            )
    for key in ("text", "speaker", "dialogue", "order"):
        for column in mapped[key]:
            empty = raw[column].isna()
            if empty.any():
                raise InputError(f"empty {key} value", path, int(np.flatnonzero(empty)[0]) + 2, column)
    out = pd.DataFrame(index=raw.index)
    out["dataset"] = spec.name
    out["dialogue"] = raw[mapped["dialogue"]].astype(str).agg("_".join, axis=1)
    out["session"] = raw[mapped["session"]].astype(str).agg("_".join, axis=1) if "session" in mapped else out["dialogue"]
    order = pd.to_numeric(raw[mapped["order"][0]], errors="coerce")
    if order.isna().any():
        i = int(np.flatnonzero(order.isna())[0])
        raise InputError(f"order value {raw[mapped['order'][0]].iloc[i]!r} is not a number", path, i + 2, mapped["order"][0])
    out["_order"] = order.to_numpy()
    if "utterance_id" in mapped:
        out["utterance_id"] = raw[mapped["utterance_id"]].astype(str).agg("_".join, axis=1)
    else:
        out["utterance_id"] = out["dialogue"] + "_" + order.astype("int64").astype(str)
    out["speaker"] = raw[mapped["speaker"][0]].map(lambda v: _speaker(v, spec.speaker_format))
    out["speaker_noun"] = spec.speaker_noun
    out["text"] = raw[mapped["text"][0]].astype(str)
    out["partition"] = part
    for key, target in (("start", "start_s"), ("end", "end_s")):
        if key in mapped:
            out[target] = _seconds(raw[mapped[key][0]], spec.time_format, path, mapped[key][0])
    for name, label in spec.labels.items():
        values = raw[label["column"]]
        if label["type"] == "regression":
            numbers = pd.to_numeric(values, errors="coerce")
            bad = numbers.isna() & values.notna()
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputError(f"label value {values.iloc[i]!r} is not a number", path, i + 2, label["column"])
            out[f"label_{name}"] = numbers.astype("float64")
        else:
            out[f"label_{name}"] = values.astype("string")
    for name, column in spec.features.items():
        out[name] = pd.to_numeric(raw[column], errors="coerce")
    out["_line"] = raw.index.to_numpy() + 2
    out["_file"] = str(path)
    return out


def read_byo(spec_path: str | Path, root: str | Path | None = None) -> pd.DataFrame:
    """Read a bring-your-own dataset: file paths in the spec are relative to `root` (default: the spec's folder)."""
    spec = load_spec(spec_path)
    base = Path(root) if root is not None else spec.path.parent
    if not base.is_dir():
        raise InputError("data root is not a directory", base)
    parts = [_partition_table(spec, part, base / rel) for part, rel in spec.files.items()]
    table = pd.concat(parts, ignore_index=True)
    dup = table["utterance_id"].duplicated(keep=False)
    if dup.any():
        row = table[dup].iloc[1]
        raise InputError(f"duplicate utterance id {row['utterance_id']!r}", row["_file"], int(row["_line"]),
                         hint="make (dialogue, order) unique or map columns.utterance_id")
    sessions = table.groupby("session")["partition"].nunique()
    if (sessions > 1).any():
        session = sessions[sessions > 1].index[0]
        raise InputError(f"session {session!r} appears in several partition files", spec.path, spec.line("files"))
    if spec.speaker_disjoint:
        check_speakers_disjoint(table, str(spec.path))
    table["turn_index"] = table.groupby("dialogue")["_order"].rank(method="first").astype(int) - 1
    table = table.drop(columns=["_order", "_line", "_file"])
    return finalise_table(table, str(spec.path))
