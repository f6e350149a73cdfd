"""IEMOCAP release layout -> talkturn table.

Reads `IEMOCAP_full_release/Session{1..5}/dialog/EmoEvaluation/<dialog>.txt` (one talkturn per
evaluation block) and `dialog/transcriptions/<dialog>.txt` (text and times), plus optional
preprocessing outputs beside the release: `preprocessing/openface/<dialog>_<F|M>.csv` and
`preprocessing/vokaturi.csv`.  See docs/corpus-layouts.md.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from hanrock_core.base.errors import InputError
from hanrock_core.base.input_files import is_hidden, read_text, visible
from hanrock_core.base.notices import Notices, ensure
from hanrock_core.reading.corpora.openface import MIN_CONFIDENCE, attach_openface
from hanrock_core.reading.corpora.vokaturi import attach_vokaturi
from hanrock_core.reading.layouts import ReadingOptions
from hanrock_core.reading.paper_tables import IEMOCAP_FOUR_CLASS
from hanrock_core.reading.splits import assign_splits, default_split_file, load_split_plan
from hanrock_core.reading.talkturn import finalise_table

RELEASE_DIR = "IEMOCAP_full_release"
_EVAL_LINE = re.compile(
    r"^\[(?P<start>\d+(?:\.\d+)?) - (?P<end>\d+(?:\.\d+)?)\]\t(?P<uid>\S+)\t(?P<code>[a-z]{3})\t"
    r"\[(?P<val>[\d.]+), (?P<act>[\d.]+), (?P<dom>[\d.]+)\]\s*$"
)
_TRANS_LINE = re.compile(r"^(?P<uid>Ses\S+) \[(?P<start>[^\]-]+)-(?P<end>[^\]]+)\]:\s?(?P<text>.*)$")
_UID = re.compile(r"^(?P<session>Ses\d\d[FM])_(?P<rest>.+)_(?P<gender>[FM])(?P<num>\d{3})$")


def find_release(root: str | Path) -> Path:
    """Accept either the folder that holds IEMOCAP_full_release or the release folder itself."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("corpus root is not a directory", root)
    return root / RELEASE_DIR if (root / RELEASE_DIR).is_dir() else root


def parse_uid(uid: str, path: Path, line: int) -> dict[str, str]:
    """Split an utterance id into lead session, dialogue and speaker."""
    m = _UID.match(uid)
    if not m:
        raise InputError(f"utterance id {uid!r} is not Ses{{NN}}{{F|M}}_..._{{F|M}}NNN", path, line)
    dialogue = uid.rsplit("_", 1)[0]
    gender = m["gender"]
    return {
        "session": m["session"],
        "dialogue": dialogue,
        "speaker": f"{m['session'][:5]}_{gender}",
        "speaker_noun": "woman" if gender == "F" else "man",
    }


def read_emo_evaluation(path: Path) -> list[dict]:
    """Parse one EmoEvaluation file: one record per `[start - end] uid code [v, a, d]` line."""
    records = []
    for number, line in enumerate(read_text(path, "EmoEvaluation file").splitlines(), start=1):
        if not line.startswith("["):
            continue  # header (%), rater lines (C-E1:, A-E3:) and blank separators
        m = _EVAL_LINE.match(line)
        if not m:
            raise InputError(
                f"malformed evaluation line {line[:60]!r}",
                path,
                number,
                hint="expected '[start - end]<TAB>utterance<TAB>code<TAB>[v, a, d]'",
            )
        start, end = float(m["start"]), float(m["end"])
        if end < start:
            raise InputError(f"end {end} is before start {start}", path, number)
        record = {
            "utterance_id": m["uid"],
            "emotion_code": m["code"],
            "label_emotion": IEMOCAP_FOUR_CLASS.get(m["code"]),
            "label_valence": float(m["val"]),
            "label_activation": float(m["act"]),
            "label_dominance": float(m["dom"]),
            "_eval_at": (path, number),
        }
        for dim in ("label_valence", "label_activation", "label_dominance"):
            if not 1.0 <= record[dim] <= 5.0:
                raise InputError(f"{dim[6:]} {record[dim]} is outside 1..5", path, number)
        record.update(parse_uid(m["uid"], path, number))
        records.append(record)
    if not records:
        raise InputError(
            "no evaluation lines ('[start - end]<TAB>utterance<TAB>code<TAB>[v, a, d]')",
            path,
            hint="the file is damaged or not an EmoEvaluation file: restore it from the release",
        )
    return records


def read_transcription(path: Path) -> dict[str, tuple[float, float, str, int]]:
    """uid -> (start, end, text, line) from one transcription file; noise lines and XX ids are skipped."""
    out: dict[str, tuple[float, float, str, int]] = {}
    for number, line in enumerate(read_text(path, "transcription").splitlines(), start=1):
        if not line.startswith("Ses"):
            continue  # noise such as `M: Yeah.` lines without an utterance id
        m = _TRANS_LINE.match(line)
        if not m:
            raise InputError(
                f"malformed transcription line {line[:60]!r}",
                path,
                number,
                hint="expected 'UTTERANCE_ID [start-end]: text'",
            )
        if "XX" in m["uid"]:
            continue  # unlabelled fragments without an evaluation
        try:
            start, end = float(m["start"]), float(m["end"])
        except ValueError:
            raise InputError(f"bad time range [{m['start']}-{m['end']}]", path, number) from None
        if end < start:
            raise InputError(f"bad time range [{m['start']}-{m['end']}]: end before start", path, number)
        if m["uid"] in out:
            raise InputError(
                f"utterance {m['uid']!r} is transcribed twice (first at line {out[m['uid']][3]})", path, number
            )
        text = m["text"].strip()
        if not text:
            raise InputError(
                f"utterance {m['uid']!r} has no text",
                path,
                number,
                hint="write what was said (or a marker such as [inaudible]); empty talkturns are refused",
            )
        out[m["uid"]] = (start, end, text, number)
    return out


def _refuse_files_for_folders(release: Path) -> None:
    """A file where the release has a session folder (or its dialog/ folders) would drop its dialogues silently."""
    for session in visible(release.glob("Session*")):
        for path in (
            session,
            session / "dialog",
            session / "dialog" / "EmoEvaluation",
            session / "dialog" / "transcriptions",
        ):
            if os.path.lexists(path) and not path.is_dir():
                raise InputError(
                    "a file stands where the release has a folder: its dialogues would be left out",
                    path,
                    hint="restore the folder from the release (a copy may have replaced it by a file)",
                )


def _dialogue_files(release: Path, notices: Notices) -> list[tuple[Path, Path]]:
    """(EmoEvaluation, transcription) file pairs; hidden files are ignored, an unpaired file is refused."""
    _refuse_files_for_folders(release)
    sessions = sorted(release.glob("Session*/dialog"))
    evaluations, transcriptions, hidden = [], [], 0
    for dialog in sessions:
        for folder, found in (("EmoEvaluation", evaluations), ("transcriptions", transcriptions)):
            listed = list((dialog / folder).glob("*.txt"))
            hidden += sum(is_hidden(p) for p in listed)
            found += [p for p in visible(listed) if not p.is_dir()]
    if hidden:
        notices.info(f"ignored {hidden} hidden file(s) such as macOS AppleDouble '._<name>.txt' companions", release)
    evaluated = {p.parent.parent / p.name for p in evaluations}
    for path in transcriptions:
        if path.parent.parent / path.name not in evaluated:
            raise InputError(
                "transcription without an EmoEvaluation file: its dialogue would be left out",
                path,
                hint=f"restore {path.parent.parent / 'EmoEvaluation' / path.name} from the release",
            )
    pairs = []
    for path in evaluations:
        trans_path = path.parent.parent / "transcriptions" / path.name
        if not os.path.lexists(trans_path):
            raise InputError("no transcription for this dialogue", path, hint=f"expected {trans_path}")
        pairs.append((path, trans_path))
    return pairs


def read_iemocap(
    root: str | Path,
    split_file: str | Path | None = None,
    openface_dir: str | Path | None = None,
    vokaturi_csv: str | Path | None = None,
    min_confidence: float = MIN_CONFIDENCE,
    dataset: str = "iemocap",
    openface_fps: float | None = None,
    notices: Notices | None = None,
) -> pd.DataFrame:
    """Read an IEMOCAP release (and its preprocessing outputs) into the talkturn table."""
    notices = ensure(notices)
    release = find_release(root)
    pairs = _dialogue_files(release, notices)
    if not pairs:
        raise InputError(
            "no EmoEvaluation files found",
            root,
            hint=f"expected {RELEASE_DIR}/Session*/dialog/EmoEvaluation/<dialog>.txt under the root",
        )
    records: list[dict] = []
    seen: dict[str, tuple[Path, int]] = {}
    unevaluated: list[tuple[Path, int]] = []
    for eval_path, trans_path in pairs:
        transcript = read_transcription(trans_path)
        evaluated = set()
        for rec in read_emo_evaluation(eval_path):
            uid = rec["utterance_id"]
            if uid in seen:
                first_path, first_line = seen[uid]
                raise InputError(
                    f"duplicate utterance id {uid!r} (first at {first_path}:{first_line})", *rec["_eval_at"]
                )
            seen[uid] = rec["_eval_at"]
            if uid not in transcript:
                raise InputError(
                    f"utterance {uid!r} has no transcription line",
                    trans_path,
                    hint=f"the evaluation is at {eval_path}:{rec['_eval_at'][1]}",
                )
            rec["start_s"], rec["end_s"], rec["text"], _ = transcript[uid]
            evaluated.add(uid)
            records.append(rec)
        unevaluated += [(trans_path, line) for uid, (*_, line) in transcript.items() if uid not in evaluated]
    if unevaluated:
        path, line = unevaluated[0]
        notices.warn(
            f"{len(unevaluated)} transcribed utterance(s) have no evaluation block and are left out (first here)",
            path,
            line,
        )
    table = pd.DataFrame.from_records(records).drop(columns="_eval_at")
    table["dataset"] = dataset
    table["turn_index"] = table.groupby("dialogue")["start_s"].rank(method="first").astype(int) - 1
    plan = load_split_plan(split_file or default_split_file("iemocap"))
    table = assign_splits(table, plan, notices=notices)
    pre = release.parent / "preprocessing" if release.name == RELEASE_DIR else release / "preprocessing"
    of_dir = Path(openface_dir) if openface_dir else pre / "openface"
    files = {
        (d, s): of_dir / f"{d}_{s[-1]}.csv"
        for d, s in table[["dialogue", "speaker"]].drop_duplicates().itertuples(index=False)
    }
    table = attach_openface(table, files, min_confidence, of_dir, openface_fps, notices, openface_dir is not None)
    table = attach_vokaturi(
        table,
        Path(vokaturi_csv) if vokaturi_csv else pre / "vokaturi.csv",
        notices=notices,
        required=vokaturi_csv is not None,
    )
    return finalise_table(table, str(root))


def read_iemocap_layout(
    root: str | Path, options: ReadingOptions, notices: Notices, require_labels: bool
) -> pd.DataFrame:
    """The IEMOCAP layout's entry point (`layouts.LAYOUTS`): every split is labelled in the release."""
    return read_iemocap(
        root,
        split_file=options.splits,
        openface_dir=options.openface,
        vokaturi_csv=options.vokaturi,
        openface_fps=options.openface_fps,
        notices=notices,
    )
