"""SEMAINE layout -> talkturn table.

One `Sessions/<n>/` folder is one conversation of a user with an operator playing a character;
several folders share one recording (session.xml's `recording`, an integer in the release; the
paper's Table 5 names recordings by date-time).  Talkturns come from the word-level transcripts;
labels are FeelTrace traces averaged per rater, then over raters, over the talkturn's time span.
See docs/corpus-layouts.md for every file name assumed here.
"""

from __future__ import annotations

import fnmatch
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hanrock_core.base.errors import InputError
from hanrock_core.base.input_files import is_hidden, read_bytes, read_text, visible
from hanrock_core.base.notices import Notices, ensure
from hanrock_core.reading.corpora.openface import MIN_CONFIDENCE, attach_openface
from hanrock_core.reading.corpora.vokaturi import attach_vokaturi
from hanrock_core.reading.layouts import ReadingOptions
from hanrock_core.reading.splits import SplitPlan, assign_splits, default_split_file, load_split_plan
from hanrock_core.reading.talkturn import finalise_table

ROLES = ("user", "operator")
CHARACTERS = {"Ob": "Obadiah", "Po": "Poppy", "Pr": "Prudence", "Sp": "Spike"}
# FeelTrace dimension code in the trace file name -> label column (the paper's four tasks)
DIMENSIONS = {"A": "activation", "I": "intensity", "P": "power", "V": "valence"}
UNUSED_DIMENSIONS = {"E": "expectation"}  # a FeelTrace dimension that is not one of the paper's tasks
SKIPPED = {"beginning", "end", "forbidden"}  # operator `character` (or `status`) of sessions public loaders skip
END_OF_TURN = "."
_SEPARATOR = re.compile(r"^---recording (?P<rec>.*) turn (?P<turn>\d+)---$")
_TRACE = re.compile(
    r"^R(?P<rater>\d+)S(?P<session>\d+)T(?P<target>[UO])C(?P<char>[A-Z][a-z])(?P<part>2?)"
    r"D(?P<dim>[A-Z][A-Za-z]*)\.txt$"
)
_LOOKS_LIKE_TRACE = re.compile(r"^R\d.*\.txt$")
DATETIME = re.compile(r"\d{4}\.\d\d\.\d\d\.\d\d\.\d\d\.\d\d")
BY_NUMBER_EXAMPLE = "examples/semaine/splits-by-recording.yaml"


def read_session_xml(path: Path) -> dict[str, str]:
    """Attributes of the `<session>` element: recording, character, optional speaker ids, status."""
    try:
        root = ET.fromstring(read_bytes(path, "session.xml"))
    except ET.ParseError as exc:
        raise InputError(
            f"malformed session.xml: {exc}", path, exc.position[0], hint="restore session.xml from the release"
        ) from exc
    for name in ("recording", "character"):
        if not (root.get(name) or "").strip():
            raise InputError(f"<session> lacks the {name!r} attribute", path, 1)
    return {k: v.strip() for k, v in root.attrib.items()}


@dataclass
class _Turn:
    utterance_id: str
    line: int
    words: list[str] = field(default_factory=list)
    start_s: float | None = None
    end_s: float | None = None
    open: bool = True


def _start_turn(
    turns: list[_Turn], seen: dict[int, int], sep, uses_dots: bool, folder: str, role: str, path: Path, number: int
) -> None:
    """A `---recording ... turn N---` line: the previous turn must be closed (when the file uses '.')."""
    current = turns[-1] if turns else None
    if uses_dots and current is not None and current.open:
        raise InputError(
            f"turn {current.utterance_id} (line {current.line}) has no end-of-turn '.' before the next turn",
            path,
            number,
            hint="every turn ends with a line holding just '.'",
        )
    turn = int(sep["turn"])
    if turn in seen:
        raise InputError(f"turn {turn} appears twice (first at line {seen[turn]})", path, number)
    seen[turn] = number
    turns.append(_Turn(f"{folder}_{role}_{turn:03d}", number))


def _add_word(current: _Turn | None, line: str, path: Path, number: int) -> None:
    """A `start_ms end_ms WORD` line: the word joins the open turn, its times widen the turn's span."""
    parts = line.split(maxsplit=2)
    if len(parts) != 3 or not (parts[0].isdigit() and parts[1].isdigit()):
        raise InputError(f"malformed word line {line[:60]!r}", path, number, hint="expected 'start_ms end_ms WORD'")
    if current is None:
        raise InputError("word before the first '---recording ... turn N---' line", path, number)
    if not current.open:
        raise InputError(
            f"word after the end-of-turn '.' of turn {current.utterance_id}",
            path,
            number,
            hint="a turn's words come before its '.' line",
        )
    start, end = int(parts[0]) / 1000.0, int(parts[1]) / 1000.0
    if end < start:
        raise InputError(f"bad time range {parts[0]}-{parts[1]} ms: end before start", path, number)
    current.words.append(parts[2])
    current.start_s = start if current.start_s is None else min(current.start_s, start)
    current.end_s = end if current.end_s is None else max(current.end_s, end)


def read_word_transcript(path: Path, folder: str, role: str) -> tuple[list[dict], list[int]]:
    """Talkturns of one word-level transcript, and the lines of turns that hold no word.

    `---recording <anything> turn N---` starts turn N, `start_ms end_ms WORD` lines follow, and a
    line that is just `.` ends it.  A file that uses `.` must end every turn with one (a turn left
    open means the file was cut or edited); a file without any `.` ends turns at the next separator.
    """
    text = read_text(path, "word-level transcript")
    if not text.strip():
        raise InputError(
            "the word-level transcript is empty",
            path,
            hint="restore it from the release, or delete it if that side of the session was never transcribed",
        )
    lines = text.splitlines()
    uses_dots = any(line.strip() == END_OF_TURN for line in lines)
    turns: list[_Turn] = []
    seen: dict[int, int] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        current = turns[-1] if turns else None
        sep = _SEPARATOR.match(line)
        if sep:
            _start_turn(turns, seen, sep, uses_dots, folder, role, path, number)
        elif line.startswith("---"):
            raise InputError(
                f"malformed turn separator {line[:60]!r}", path, number, hint="expected '---recording <id> turn <N>---'"
            )
        elif line == END_OF_TURN:
            if current is None or not current.open:
                raise InputError("end-of-turn '.' without a turn to end", path, number)
            current.open = False
        else:
            _add_word(current, line, path, number)
    if uses_dots and turns and turns[-1].open:
        raise InputError(
            f"the file ends inside turn {turns[-1].utterance_id} (line {turns[-1].line}): no end-of-turn '.'",
            path,
            len(lines),
            hint="the file may be cut short: restore it from the release",
        )
    kept = [
        {"utterance_id": t.utterance_id, "words": t.words, "start_s": t.start_s, "end_s": t.end_s}
        for t in turns
        if t.words
    ]
    return kept, [t.line for t in turns if not t.words]


def read_trace(path: Path) -> np.ndarray:
    """(time_s, value) samples of one FeelTrace file, values checked to be finite and in [-1, 1]."""
    text = read_text(path, "FeelTrace trace")
    tokens = text.split()
    if not tokens:
        raise InputError("empty trace file", path, hint="restore it from the release, or delete it")
    try:
        samples = np.array(tokens, dtype=float).reshape(-1, 2)
        ok = np.isfinite(samples[:, 0]).all() and ((samples[:, 1] >= -1.0) & (samples[:, 1] <= 1.0)).all()
    except ValueError:  # an odd count or a token that is not a number
        ok = False
    if not ok:
        _refuse_trace_line(text, path)
    return samples[np.argsort(samples[:, 0], kind="stable")]


def _refuse_trace_line(text: str, path: Path) -> None:
    """Find and name the first bad line of a trace that failed the fast checks."""
    for number, raw in enumerate(text.splitlines(), start=1):
        tokens = raw.split()
        if len(tokens) % 2:
            raise InputError("expected whitespace-separated (time, value) pairs", path, number)
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            raise InputError(
                f"not a number in {raw[:60]!r}", path, number, hint="decimals are written with '.'"
            ) from None
        for t, v in zip(values[0::2], values[1::2]):
            if not np.isfinite(t):
                raise InputError(f"time {t} is not a finite number", path, number)
            if not -1.0 <= v <= 1.0:
                raise InputError(f"trace value {v} is outside [-1, 1]", path, number)
    raise InputError("expected whitespace-separated (time, value) pairs", path)


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


TRACE_STEP_S = 0.02  # FeelTrace samples every 20 ms


def check_trace_seconds(samples: np.ndarray, path: Path, transcript_end_s: float) -> None:
    """Trace times are seconds; a trace written in milliseconds would give every talkturn a wrong label.

    Refused when the trace runs far beyond the session's transcript (over ten times as long and a
    minute more) or its samples lie more than a second apart (FeelTrace's are 20 ms apart)."""
    if len(samples) < 2:
        return
    last, step = float(samples[-1, 0]), float(np.median(np.diff(samples[:, 0])))
    if last > 10 * max(transcript_end_s, 0.0) + 60 or step > 50 * TRACE_STEP_S:
        raise InputError(
            f"the trace runs to time {last:g} with samples {step:g} apart, but the session's transcript "
            f"ends at {transcript_end_s:.1f} s: its times look like milliseconds, not seconds "
            f"(FeelTrace writes seconds, {TRACE_STEP_S * 1000:.0f} ms apart)",
            path,
            hint="divide the first number of every line by 1000, or restore the file from the release",
        )


def _labels_for(turns: pd.DataFrame, traces: list[tuple[Path, dict]]) -> dict[str, np.ndarray | None]:
    """Label columns for one role's talkturns: each rater's traces averaged, then the raters (None: no trace)."""
    starts, ends = turns["start_s"].to_numpy(), turns["end_s"].to_numpy()
    out: dict[str, np.ndarray | None] = {}
    for code, name in DIMENSIONS.items():
        by_rater: dict[str, list[np.ndarray]] = defaultdict(list)
        for path, m in traces:
            if m["dim"] == code:
                samples = read_trace(path)
                check_trace_seconds(samples, path, float(np.nanmax(ends)))
                by_rater[m["rater"]].append(span_means(samples, starts, ends))
        out[f"label_{name}"] = np.mean([np.mean(v, axis=0) for v in by_rater.values()], axis=0) if by_rater else None
    return out


@dataclass
class _Session:
    """One session folder as the reader saw it."""

    folder: Path
    attrs: dict[str, str]
    datetime: str | None


def _recording_datetime(attrs: dict[str, str], folder: Path, xml_path: Path) -> str | None:
    """The recording's date-time from session.xml's `recording`, else from file names that start with one."""
    if DATETIME.fullmatch(attrs["recording"]):
        return attrs["recording"]
    stamps = sorted({m[0] for p in visible(folder.iterdir()) if (m := DATETIME.match(p.name))})
    if len(stamps) > 1:
        raise InputError(
            f"file names in this session folder carry several recording date-times {stamps}",
            xml_path.parent,
            hint="a session folder holds one recording's files",
        )
    return stamps[0] if stamps else None


def _session_folders(root: Path, notices: Notices) -> list[_Session]:
    """Every folder under Sessions/ (hidden names ignored); each must hold a session.xml."""
    sessions_dir = root / "Sessions"
    if not sessions_dir.is_dir():
        raise InputError("no Sessions/ folder", root, hint="point at the folder that holds Sessions/<n>/session.xml")
    entries = list(sessions_dir.iterdir())
    if any(is_hidden(p) for p in entries):
        notices.info(
            f"ignored {sum(is_hidden(p) for p in entries)} hidden entries (names starting with '.')", sessions_dir
        )
    strays = [p.name for p in visible(entries) if not p.is_dir()]
    for name in strays:
        if name.isdigit():  # where session folder <n> belongs: its talkturns would vanish
            raise InputError(
                "a file stands where a session folder belongs: the session would be left out",
                sessions_dir / name,
                hint="restore the session folder from the release",
            )
    if strays:
        notices.info(f"{len(strays)} file(s) beside the session folders are not read: {strays[:5]}", sessions_dir)
    out = []
    for folder in sorted((p for p in visible(entries) if p.is_dir()), key=lambda p: (len(p.name), p.name)):
        xml_path = folder / "session.xml"
        if not xml_path.exists() and not xml_path.is_symlink():
            raise InputError(
                "session folder without session.xml",
                folder,
                hint="restore session.xml from the release, or move the folder out of Sessions/ if it is not a session",
            )
        attrs = read_session_xml(xml_path)
        out.append(_Session(folder, attrs, _recording_datetime(attrs, folder, xml_path)))
    if not out:
        raise InputError("no Sessions/<n>/session.xml found", root, hint="point at the folder that holds Sessions/")
    return out


def _plan_form(plan: SplitPlan) -> str:
    """'datetime' or 'number': how the split file names recordings (one form per file)."""
    forms = {s: "datetime" if DATETIME.fullmatch(s) else "number" if s.isdigit() else None for s in plan.session_split}
    for session, form in forms.items():
        if form is None:
            raise InputError(
                f"recording {session!r} is neither a recording number (session.xml's recording) nor a "
                "date-time like 2009.05.26.10.19.53",
                plan.source,
                plan.session_line[session],
            )
    if len(set(forms.values())) > 1:
        first = next(iter(forms.values()))
        session = next(s for s, f in forms.items() if f != first)
        raise InputError(
            f"recording {session!r} is written differently from the first entry: list recordings either "
            "all by number or all by date-time",
            plan.source,
            plan.session_line[session],
        )
    return next(iter(forms.values()), "datetime")


def _session_key(session: _Session, form: str, plan: SplitPlan, numbers: list[str]) -> str:
    """The recording id of a session folder in the form the split file uses."""
    xml_path = session.folder / "session.xml"
    if form == "number":
        if not session.attrs["recording"].isdigit():
            raise InputError(
                f"recording {session.attrs['recording']!r} is not a number, but {plan.source} lists recording numbers",
                xml_path,
                1,
                hint="list this copy's recordings by date-time instead",
            )
        return session.attrs["recording"]
    if session.datetime is None:
        raise InputError(
            f"recording {session.attrs['recording']} carries no date-time (neither session.xml's recording nor a "
            f"file name in {session.folder.name}/ starts with one), but the split file {plan.source} names "
            "recordings by date-time as the paper's Table 5 does",
            xml_path,
            1,
            hint=f"pass --splits FILE listing recording numbers (this copy has recordings {numbers}); "
            f"{BY_NUMBER_EXAMPLE} is an example; see docs/corpus-layouts.md",
        )
    return session.datetime


@dataclass
class _LeftOut:
    """What the read left out or could not label; reported in a few notices at the end."""

    skipped: list[str] = field(default_factory=list)  # folder names
    skipped_why: list[str] = field(default_factory=list)
    no_transcript: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # role -> folders
    empty_turns: list[tuple[Path, int]] = field(default_factory=list)
    unlabelled: dict[tuple[str, str], list[tuple[str, int]]] = field(default_factory=lambda: defaultdict(list))
    rated: set[tuple[str, str]] = field(default_factory=set)  # (role, task) with a trace in some session
    traces: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # kind -> trace files not read

    def unread_sides(self) -> list[tuple[str, str]]:
        """(folder, role) of skipped sessions and of sides without a transcript."""
        return [(d, role) for d in self.skipped for role in ROLES] + [
            (d, role) for role, folders in self.no_transcript.items() for d in folders
        ]

    def report(self, notices: Notices, where: Path) -> None:
        if self.skipped:
            notices.info(
                f"skipped {len(self.skipped)} session(s) as public loaders do (operator character or status "
                f"beginning / end / forbidden): {_some(self.skipped_why)}",
                where,
            )
        for role, folders in self.no_transcript.items():
            notices.warn(
                f"{len(folders)} session(s) have no word-level transcript of the {role}, so no {role} "
                f"talkturns: {_some(folders)}",
                where,
            )
        if self.empty_turns:
            path, line = self.empty_turns[0]
            notices.warn(f"{len(self.empty_turns)} turn(s) hold no word and are left out (first here)", path, line)
        for (role, task), missing in self.unlabelled.items():
            turns, folders = sum(n for _, n in missing), [f for f, _ in missing]
            if role == "operator" and (role, task) not in self.rated:
                notices.info(
                    f"the operator has no {task} trace in any session: operator talkturns have no {task} "
                    "label (they are context for the user's talkturns)",
                    where,
                )
            else:
                notices.warn(
                    f"{len(folders)} session(s) have no {task} trace of the {role}, so {turns} {role} "
                    f"talkturns have no {task} label: {_some(folders)}",
                    where,
                )
        if self.traces.get("unparsed"):
            notices.warn(
                f"{len(self.traces['unparsed'])} file(s) look like FeelTrace traces but their names do not "
                "parse (R<rater>S<session>T<U|O>C<Ob|Po|Pr|Sp>[2]D<code>.txt) and are not read: "
                f"{_some(self.traces['unparsed'])}",
                where,
            )
        ignored = {kind: len(files) for kind, files in self.traces.items() if kind != "unparsed"}
        if ignored:
            notices.info(
                "traces that are not the paper's tasks are not read: "
                + ", ".join(f"{n} {kind}" for kind, n in sorted(ignored.items())),
                where,
            )


def _some(items: list[str], n: int = 8) -> str:
    return f"{items[:n]}{' ...' if len(items) > n else ''}"


def _traces(folder: Path, left_out: _LeftOut) -> list[tuple[Path, dict]]:
    """The folder's FeelTrace traces of the paper's four dimensions; other traces are counted as left out."""
    found = []
    for path in visible(folder.iterdir()):
        if not _LOOKS_LIKE_TRACE.match(path.name):
            continue
        m = _TRACE.match(path.name)
        if m is None:
            left_out.traces["unparsed"].append(f"{folder.name}/{path.name}")
        elif len(m["dim"]) > 1:
            left_out.traces["categorical"].append(path.name)
        elif m["dim"] in DIMENSIONS:
            found.append((path, m.groupdict()))
        else:
            left_out.traces[UNUSED_DIMENSIONS.get(m["dim"], f"D{m['dim']}")].append(path.name)
    return found


def _read_session(session: _Session, key: str, left_out: _LeftOut) -> list[pd.DataFrame]:
    """The talkturns of each role of one session folder, with their FeelTrace labels."""
    folder, attrs = session.folder, session.attrs
    traces = _traces(folder, left_out)
    listed = visible(folder.iterdir())
    out = []
    for role in ROLES:
        transcripts = [p for p in listed if fnmatch.fnmatchcase(p.name, f"wordLevel_alignedTranscript*_{role}*")]
        if not transcripts:
            left_out.no_transcript[role].append(folder.name)
            continue
        records = []
        for path in transcripts:
            kept, empty_lines = read_word_transcript(path, folder.name, role)
            records += kept
            left_out.empty_turns += [(path, line) for line in empty_lines]
        if not records:
            continue
        turns = pd.DataFrame.from_records(records)
        turns["text"] = turns.pop("words").map(" ".join)
        target = "U" if role == "user" else "O"
        for column, values in _labels_for(turns, [t for t in traces if t[1]["target"] == target]).items():
            task = column[len("label_") :]
            if values is None:
                left_out.unlabelled[(role, task)].append((folder.name, len(turns)))
                values = np.full(len(turns), np.nan)
            else:
                left_out.rated.add((role, task))
            turns[column] = values
        turns["speaker"] = attrs.get(f"{role}Id") or f"{attrs['recording']}_{role}"
        turns["speaker_noun"] = role
        turns["session"] = key
        turns["dialogue"] = folder.name
        turns["character"] = attrs["character"]
        out.append(turns)
    return out


def read_semaine(
    root: str | Path,
    split_file: str | Path | None = None,
    openface_dir: str | Path | None = None,
    vokaturi_csv: str | Path | None = None,
    min_confidence: float = MIN_CONFIDENCE,
    dataset: str = "semaine",
    openface_fps: float | None = None,
    notices: Notices | None = None,
) -> pd.DataFrame:
    """Read a SEMAINE corpus (and its preprocessing outputs) into the talkturn table."""
    notices = ensure(notices)
    root = Path(root)
    if not root.is_dir():
        raise InputError("corpus root is not a directory", root)
    sessions = _session_folders(root, notices)
    plan = load_split_plan(split_file or default_split_file("semaine"))
    form = _plan_form(plan)
    numbers = sorted({s.attrs["recording"] for s in sessions}, key=lambda r: (len(r), r))
    frames, left_out = [], _LeftOut()
    for session in sessions:
        attrs = session.attrs
        why = next((f"{k} {attrs[k]!r}" for k in ("character", "status") if attrs.get(k, "").lower() in SKIPPED), None)
        if why:
            left_out.skipped.append(session.folder.name)
            left_out.skipped_why.append(f"{session.folder.name} ({why})")
            continue
        if attrs["character"].casefold() not in {c.casefold() for c in CHARACTERS.values()}:
            notices.warn(
                f"operator character {attrs['character']!r} is none of SEMAINE's four "
                f"({', '.join(CHARACTERS.values())}): its session is read as it is (a typing slip would make a "
                "character of its own)",
                session.folder / "session.xml",
                1,
            )
        frames += _read_session(session, _session_key(session, form, plan, numbers), left_out)
    left_out.report(notices, root / "Sessions")
    if not frames:
        raise InputError("no talkturns found in any session", root)
    table = pd.concat(frames, ignore_index=True)
    table["dataset"] = dataset
    table = table.sort_values(["dialogue", "start_s", "utterance_id"], kind="stable")
    table["turn_index"] = table.groupby("dialogue").cumcount()
    table = assign_splits(table, plan, notices=notices)
    pre = root / "preprocessing"
    of_dir = Path(openface_dir) if openface_dir else pre / "openface"
    files = {}
    for d, s, noun in table[["dialogue", "speaker", "speaker_noun"]].drop_duplicates().itertuples(index=False):
        files[(d, s)] = of_dir / f"{d}_{noun}.csv"
    sides = left_out.unread_sides()  # (folder, role) pairs whose OpenFace and Vokaturi rows have no talkturn
    table = attach_openface(
        table,
        files,
        min_confidence,
        of_dir,
        openface_fps,
        notices,
        openface_dir is not None,
        frozenset(f"{d}_{role}.csv" for d, role in sides),
    )
    table = attach_vokaturi(
        table,
        Path(vokaturi_csv) if vokaturi_csv else pre / "vokaturi.csv",
        tuple(f"{d}_{role}_" for d, role in sides),
        notices,
        vokaturi_csv is not None,
    )
    return finalise_table(table, str(root))


def read_semaine_layout(
    root: str | Path, options: ReadingOptions, notices: Notices, require_labels: bool
) -> pd.DataFrame:
    """The SEMAINE layout's entry point (`layouts.LAYOUTS`): every split is labelled in the release."""
    return read_semaine(
        root,
        split_file=options.splits,
        openface_dir=options.openface,
        vokaturi_csv=options.vokaturi,
        openface_fps=options.openface_fps,
        notices=notices,
    )
