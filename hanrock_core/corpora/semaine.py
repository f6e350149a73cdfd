"""SEMAINE layout -> talkturn table.

One `Sessions/<n>/` folder is one conversation of a user with an operator playing a character;
several folders share one recording (the date-time id that Table 5 partitions).  Talkturns come
from the word-level transcripts; labels are FeelTrace traces averaged over raters and over the
talkturn's time span.  See docs/corpus-layouts.md for every file name assumed here.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..partitions import assign_partitions, default_partition_file, load_partition_plan
from ..talkturn import finalise_table
from .openface import MIN_CONFIDENCE, attach_openface
from .vokaturi import attach_vokaturi

ROLES = ("user", "operator")
CHARACTERS = {"Ob": "Obadiah", "Po": "Poppy", "Pr": "Prudence", "Sp": "Spike"}
# FeelTrace dimension letter in the trace file name -> label column
DIMENSIONS = {"A": "activation", "I": "intensity", "P": "power", "V": "valence"}
SKIPPED_STATUS = {"beginning", "end", "forbidden"}
_SEPARATOR = re.compile(r"^---recording (?P<rec>\S+) turn (?P<turn>\d+)---\s*$")
_TRACE = re.compile(r"^R(?P<rater>\d+)S(?P<session>\d+)T(?P<target>[UO])C(?P<char>Ob|Po|Pr|Sp)D(?P<dim>[A-Z])\.txt$")


def read_session_xml(path: Path) -> dict[str, str]:
    """Attributes of the `<session>` element: recording, character, optional speaker ids, status."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(f"malformed session.xml: {exc}", path, exc.position[0]) from exc
    for name in ("recording", "character"):
        if not root.get(name):
            raise InputError(f"<session> lacks the {name!r} attribute", path, 1)
    return dict(root.attrib)


def read_word_transcript(path: Path, folder: str, role: str) -> list[dict]:
    """Group `start_ms end_ms WORD` lines into talkturns at each `---recording R turn N---`."""
    turns: list[dict] = []
    current: dict | None = None
    seen: set[int] = set()
    for number, raw in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        sep = _SEPARATOR.match(line)
        if sep:
            turn = int(sep["turn"])
            if turn in seen:
                raise InputError(f"turn {turn} appears twice", path, number)
            seen.add(turn)
            current = {"utterance_id": f"{folder}_{role}_{turn:03d}", "words": [], "start_s": None, "end_s": None}
            turns.append(current)
            continue
        parts = line.split(maxsplit=2)
        if len(parts) != 3 or not (parts[0].isdigit() and parts[1].isdigit()):
            raise InputError(f"malformed word line {line[:60]!r}", path, number, hint="expected 'start_ms end_ms WORD'")
        if current is None:
            raise InputError("word before the first '---recording ... turn N---' line", path, number)
        start, end = int(parts[0]) / 1000.0, int(parts[1]) / 1000.0
        if end < start:
            raise InputError(f"bad time range {parts[0]}-{parts[1]} ms: end before start", path, number)
        current["words"].append(parts[2])
        current["start_s"] = start if current["start_s"] is None else min(current["start_s"], start)
        current["end_s"] = end if current["end_s"] is None else max(current["end_s"], end)
    return [t for t in turns if t["words"]]


def read_trace(path: Path) -> np.ndarray:
    """(time_s, value) samples of one FeelTrace file, values checked to lie in [-1, 1]."""
    rows = []
    for number, raw in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        tokens = raw.split()
        if not tokens:
            continue
        if len(tokens) % 2:
            raise InputError("expected whitespace-separated (time, value) pairs", path, number)
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            raise InputError(f"not a number in {raw[:60]!r}", path, number) from None
        for t, v in zip(values[0::2], values[1::2]):
            if not -1.0 <= v <= 1.0:
                raise InputError(f"trace value {v} is outside [-1, 1]", path, number)
            rows.append((t, v))
    if not rows:
        raise InputError("empty trace file", path)
    samples = np.array(rows)
    return samples[np.argsort(samples[:, 0], kind="stable")]


def span_means(samples: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Mean trace value over each [start, end]; the value at the midpoint where no sample falls inside."""
    t, v = samples[:, 0], samples[:, 1]
    lo = np.searchsorted(t, starts, side="left")
    hi = np.searchsorted(t, ends, side="right")
    csum = np.r_[0.0, np.cumsum(v)]
    n = hi - lo
    inside = (csum[hi] - csum[lo]) / np.maximum(n, 1)
    midpoint = np.interp((starts + ends) / 2.0, t, v)
    return np.where(n > 0, inside, midpoint)


def _labels_for(turns: pd.DataFrame, traces: list[tuple[Path, dict]]) -> dict[str, np.ndarray]:
    """Label columns for one role's talkturns: traces averaged over raters per dimension."""
    out = {}
    for letter, name in DIMENSIONS.items():
        per_rater = [
            span_means(read_trace(p), turns["start_s"].to_numpy(), turns["end_s"].to_numpy())
            for p, m in traces
            if m["dim"] == letter
        ]
        out[f"label_{name}"] = np.mean(per_rater, axis=0) if per_rater else np.full(len(turns), np.nan)
    return out


def read_semaine(
    root: str | Path,
    partition_file: str | Path | None = None,
    openface_dir: str | Path | None = None,
    vokaturi_csv: str | Path | None = None,
    min_confidence: float = MIN_CONFIDENCE,
    dataset: str = "semaine",
) -> pd.DataFrame:
    """Read a SEMAINE corpus (and its preprocessing outputs) into the talkturn table."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("corpus root is not a directory", root)
    session_files = sorted((root / "Sessions").glob("*/session.xml"), key=lambda p: (len(p.parent.name), p.parent.name))
    if not session_files:
        raise InputError("no Sessions/<n>/session.xml found", root, hint="point at the folder that holds Sessions/")
    frames, skipped = [], []
    for xml_path in session_files:
        folder = xml_path.parent
        attrs = read_session_xml(xml_path)
        if attrs.get("status", "ok") in SKIPPED_STATUS:
            skipped.append(f"{folder.name}_")
            continue
        traces = [(p, m.groupdict()) for p in sorted(folder.glob("R*S*T*C*D*.txt")) if (m := _TRACE.match(p.name))]
        for role in ROLES:
            transcripts = sorted(folder.glob(f"wordLevel_alignedTranscript*_{role}*"))
            if not transcripts:
                continue
            turns = pd.DataFrame.from_records(
                [t for path in transcripts for t in read_word_transcript(path, folder.name, role)]
            )
            if turns.empty:
                continue
            turns["text"] = turns.pop("words").map(" ".join)
            target = "U" if role == "user" else "O"
            for name, values in _labels_for(turns, [t for t in traces if t[1]["target"] == target]).items():
                turns[name] = values
            turns["speaker"] = attrs.get(f"{role}Id") or f"{attrs['recording']}_{role}"
            turns["speaker_noun"] = role
            turns["session"] = attrs["recording"]
            turns["dialogue"] = folder.name
            turns["character"] = attrs["character"]
            frames.append(turns)
    if not frames:
        raise InputError("no talkturns found in any session", root)
    table = pd.concat(frames, ignore_index=True)
    table["dataset"] = dataset
    table = table.sort_values(["dialogue", "start_s", "utterance_id"], kind="stable")
    table["turn_index"] = table.groupby("dialogue").cumcount()
    plan = load_partition_plan(partition_file or default_partition_file("semaine"))
    table = assign_partitions(table, plan)
    pre = root / "preprocessing"
    of_dir = Path(openface_dir) if openface_dir else pre / "openface"
    files = {}
    for d, s, noun in table[["dialogue", "speaker", "speaker_noun"]].drop_duplicates().itertuples(index=False):
        files[(d, s)] = of_dir / f"{d}_{noun}.csv"
    table = attach_openface(table, files, min_confidence)
    table = attach_vokaturi(table, Path(vokaturi_csv) if vokaturi_csv else pre / "vokaturi.csv", tuple(skipped))
    return finalise_table(table, str(root))
