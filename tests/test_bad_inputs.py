"""The bad-input table: one row per way a user's files can be damaged, and what the platform must do.

Each row damages a private copy of a tiny corpus (the synthetic IEMOCAP or SEMAINE, a bring-your-own
table made from the synthetic IEMOCAP, or a slice of the real EmoryNLP corpus), or writes a broken
settings file or study profile, then runs the real command line (`hanrock load ...` or
`hanrock config ...`).  A refused input must exit 2 naming the file (and line where there is one)
and the words of the problem, print no traceback and write nothing.  An accepted one must exit 0
with every talkturn of the undamaged corpus, or say in a notice what it left out.  Accepting bad
input silently is exactly what this table is here to catch.  docs/faults.md summarises it.
"""

from __future__ import annotations

import codecs
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from hanrock_core.reading.corpora import read_iemocap

from .conftest import EMORYNLP, REPO, tmpfs
from .helpers import run_cli

EVAL = "IEMOCAP_full_release/Session1/dialog/EmoEvaluation/*.txt"
TRANS = "IEMOCAP_full_release/Session1/dialog/transcriptions/*.txt"
OPENFACE = "preprocessing/openface/*.csv"
VOKATURI = "preprocessing/vokaturi.csv"
SESSION = "Sessions/3"
APPLEDOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02\x00\x00\x00\x09\x00\x00\x002\x00\x00\x0e\xb0"


@dataclass(frozen=True)
class Case:
    """One row: how to damage the input, and what must happen."""

    name: str
    corpus: str  # iemocap | semaine | byo | emorynlp (hanrock load), settings | profile (hanrock config)
    damage: Callable[[Path, Path], tuple[list, str]]  # (root, tmp) -> (extra CLI args, text the message must hold)
    says: tuple[str, ...] = ()
    code: int = 2
    rows: str = "same"  # exit 0: "same" talkturns as the undamaged input, or "fewer" (said in a notice)


# ---------------------------------------------------------------- small editing helpers


def one(root: Path, pattern: str, i: int = 0) -> Path:
    return sorted(root.glob(pattern))[i]


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def write(path: Path, rows: list[str], encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.write_bytes((newline.join(rows) + newline).encode(encoding))
    return path


def set_line(path: Path, number: int, text: str) -> str:
    """Replace line `number` (1-based); return `path:number` for the expected message."""
    rows = lines(path)
    rows[number - 1] = text
    write(path, rows)
    return f"{path}:{number}"


def line_of(path: Path, start: str) -> int:
    return next(i for i, row in enumerate(lines(path), 1) if row.startswith(start))


def reencode(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def loop(path: Path) -> Path:
    """Replace a file by a symlink that points at itself."""
    path.unlink()
    path.symlink_to(path.name)
    return path


def appledouble(pattern: str):
    """Put a macOS AppleDouble companion `._<name>` beside the first file matching `pattern`."""

    def damage(root, tmp):
        path = one(root, pattern)
        reencode(path.parent / f"._{path.name}", APPLEDOUBLE)
        return [], ""

    return damage


def utf16(pattern: str):
    """Re-save the first file matching `pattern` as UTF-16 with a byte-order mark (to be read as it is)."""

    def damage(root, tmp):
        path = one(root, pattern)
        reencode(path, codecs.BOM_UTF16_LE + path.read_text().encode("utf-16-le"))
        return [], ""

    return damage


def bom_crlf(pattern: str):
    def damage(root, tmp):
        path = one(root, pattern)
        path.write_bytes(codecs.BOM_UTF8 + path.read_bytes().replace(b"\n", b"\r\n"))
        return [], ""

    return damage


# ---------------------------------------------------------------- IEMOCAP


def _eval_line(root: Path) -> tuple[Path, int]:
    path = one(root, EVAL)
    return path, line_of(path, "[")


def edit_eval(edit):
    """Rewrite the first evaluation line of the first EmoEvaluation file."""

    def damage(root, tmp):
        path, n = _eval_line(root)
        return [], set_line(path, n, edit(lines(path)[n - 1]))

    return damage


def missing_transcription(root, tmp):
    path = one(root, TRANS)
    path.unlink()
    return [], str(path.parent.parent / "EmoEvaluation" / path.name)


def iemocap_cases() -> list[Case]:
    def cp1252_transcription(root, tmp):
        path = one(root, TRANS)
        rows = lines(path)
        rows[2] = rows[2].split(": ", 1)[0] + ": She said \u201chello\u201d \u2013 twice."
        path.write_bytes(("\n".join(rows) + "\n").encode("cp1252"))
        return [], f"{path}:3"

    def undecodable_eval(root, tmp):
        path, n = _eval_line(root)
        data = path.read_bytes().split(b"\n")
        data[n - 1] = data[n - 1].replace(b"\t", b"\t\xff\xfe", 1)
        path.write_bytes(b"\n".join(data))
        return [], f"{path}:{n}"

    def transcription_without_evaluation(root, tmp):
        path = one(root, EVAL)
        path.unlink()
        return [], str(path.parent.parent / "transcriptions" / path.name)

    def unevaluated_transcription(root, tmp):
        path = one(root, TRANS)
        with path.open("a") as f:
            f.write("Ses01F_impro01_F099 [100.0000-101.0000]: An utterance nobody rated.\n")
        return [], f"{path}:{len(lines(path))}"

    def duplicate_transcription(root, tmp):
        path = one(root, TRANS)
        rows = lines(path)
        write(path, rows[:2] + [rows[1]] + rows[2:])
        return [], f"{path}:3"

    def uid_without_transcription(root, tmp):
        path = one(root, TRANS)
        rows = lines(path)
        uid = rows[0].split()[0]
        write(path, rows[1:])
        return [], f"'{uid}' has no transcription line"

    def plan(text):
        def damage(root, tmp):
            path = tmp / "split.yaml"
            path.write_text(text)
            return ["--splits", path], str(path)

        return damage

    def openface(edit):
        def damage(root, tmp):
            path = one(root, OPENFACE)
            return [], edit(path)

        return damage

    def all_zero_timestamps(path):
        frames = pd.read_csv(path, skipinitialspace=True)
        frames.columns = [c.strip() for c in frames.columns]
        frames["timestamp"] = 0.0
        frames.to_csv(path, index=False)
        return f"{path}:2"

    def vokaturi(edit):
        def damage(root, tmp):
            path = root / VOKATURI
            return [], edit(path)

        return damage

    def fps_rebuilds(root, tmp):
        for path in sorted(root.glob(OPENFACE)):
            all_zero_timestamps(path)
        return ["--openface-fps", "10"], ""

    def openface_without_spaces(root, tmp):
        for path in sorted(root.glob(OPENFACE)):
            write(path, [row.replace(", ", ",") for row in lines(path)])
        return [], ""

    def stray_openface(root, tmp):
        shutil.copy(one(root, OPENFACE), root / "preprocessing" / "openface" / "Ses01F_impro01_f.csv")
        return [], "Ses01F_impro01_f.csv"

    def missing_openface(root, tmp):
        one(root, OPENFACE).unlink()
        return [], "1 of"

    def out_is_directory(root, tmp):
        (tmp / "out" / "talkturns.parquet").mkdir(parents=True)
        return [], "talkturns.parquet"

    def overflowed_pose(path):
        """pose_Tz 1e308 on a successfully tracked frame (numpy overflowed on it; nod and lean words flipped)."""
        rows = lines(path)
        header = [c.strip() for c in rows[0].split(",")]
        number = next(i for i, row in enumerate(rows[1:], 2) if row.split(", ")[header.index("success")].strip() == "1")
        cells = rows[number - 1].split(", ")
        cells[header.index("pose_Tz")] = "1e308"
        return set_line(path, number, ", ".join(cells))

    def session_replaced_by_file(keep_preprocessing: bool):
        def damage(root, tmp):
            session = root / "IEMOCAP_full_release" / "Session2"
            shutil.rmtree(session)
            session.write_text("a copy replaced this folder by a file\n")
            if not keep_preprocessing:
                shutil.rmtree(root / "preprocessing")
            return [], str(session)

        return damage

    return [
        Case("appledouble beside an EmoEvaluation file", "iemocap", appledouble(EVAL), ("hidden file",), code=0),
        Case("appledouble beside a transcription", "iemocap", appledouble(TRANS), code=0),
        Case("EmoEvaluation in UTF-16 with a BOM", "iemocap", utf16(EVAL), code=0),
        Case("transcription in UTF-8 with a BOM and CRLF", "iemocap", bom_crlf(TRANS), code=0),
        Case(
            "transcription in cp1252 with curly quotes",
            "iemocap",
            cp1252_transcription,
            ("do not decode", "Windows-1252"),
        ),
        Case("EmoEvaluation bytes that do not decode", "iemocap", undecodable_eval, ("do not decode",)),
        Case(
            "EmoEvaluation in UTF-16 without a BOM",
            "iemocap",
            lambda r, t: ([], str(reencode(one(r, EVAL), one(r, EVAL).read_text().encode("utf-16-le")))),
            ("UTF-16 without a byte-order mark",),
        ),
        Case(
            "transcription holding U+FFFD",
            "iemocap",
            lambda r, t: ([], set_line(one(r, TRANS), 2, lines(one(r, TRANS))[1] + " caf\ufffd")),
            ("U+FFFD",),
        ),
        Case(
            "EmoEvaluation of 0 bytes",
            "iemocap",
            lambda r, t: ([], str(reencode(one(r, EVAL), b""))),
            ("no evaluation lines",),
        ),
        Case(
            "EmoEvaluation holding only the header",
            "iemocap",
            lambda r, t: ([], str(write(one(r, EVAL), lines(one(r, EVAL))[:1]))),
            ("no evaluation lines",),
        ),
        Case("transcription missing", "iemocap", missing_transcription, ("no transcription for this dialogue",)),
        Case(
            "transcription without its EmoEvaluation",
            "iemocap",
            transcription_without_evaluation,
            ("without an EmoEvaluation file",),
        ),
        Case(
            "EmoEvaluation is a symlink loop",
            "iemocap",
            lambda r, t: ([], str(loop(one(r, EVAL)))),
            ("symbolic links", "symlink loop"),
        ),
        Case(
            "transcription is a symlink loop",
            "iemocap",
            lambda r, t: ([], str(loop(one(r, TRANS)))),
            ("symbolic links",),
        ),
        Case(
            "transcription with empty text",
            "iemocap",
            lambda r, t: ([], set_line(one(r, TRANS), 2, lines(one(r, TRANS))[1].split(": ", 1)[0] + ": ")),
            ("has no text",),
        ),
        Case(
            "transcription with whitespace-only text",
            "iemocap",
            lambda r, t: ([], set_line(one(r, TRANS), 2, lines(one(r, TRANS))[1].split(": ", 1)[0] + ":    ")),
            ("has no text",),
        ),
        Case("an utterance transcribed twice", "iemocap", duplicate_transcription, ("transcribed twice",)),
        Case(
            "transcribed utterance without an evaluation block",
            "iemocap",
            unevaluated_transcription,
            ("no evaluation block",),
            code=0,
        ),
        Case("evaluation without a transcription line", "iemocap", uid_without_transcription, ()),
        Case(
            "valence outside 1..5",
            "iemocap",
            edit_eval(lambda row: row.rsplit("\t", 1)[0] + "\t[9.5000, 3.0000, 3.0000]"),
            ("outside 1..5",),
        ),
        Case(
            "valence 'inf'",
            "iemocap",
            edit_eval(lambda row: row.rsplit("\t", 1)[0] + "\t[inf, 3.0000, 3.0000]"),
            ("malformed evaluation line",),
        ),
        Case(
            "malformed utterance id",
            "iemocap",
            edit_eval(lambda row: row.replace("Ses01", "Sess1", 1)),
            ("is not Ses",),
        ),
        Case(
            "dev lists only sessions the corpus lacks",
            "iemocap",
            plan(
                "train: [Ses01F, Ses01M, Ses02F, Ses02M, Ses03F, Ses03M, Ses04F, Ses04M]\ndev: [Ses09F]\n"
                "test: [Ses05F, Ses05M]\n"
            ),
            ("split 'dev' has no talkturns", "Ses09F"),
        ),
        Case(
            "test lists no session",
            "iemocap",
            plan(
                "train: [Ses01F, Ses01M, Ses02F, Ses02M, Ses03F, Ses03M, Ses05F, Ses05M]\ndev: [Ses04F, Ses04M]\n"
                "test: []\n"
            ),
            ("split 'test' has no talkturns",),
        ),
        Case(
            "split file entry that is a list",
            "iemocap",
            plan("train: [[Ses01F, Ses01M], Ses02F]\ndev: [Ses04F]\ntest: [Ses05F]\n"),
            ("not a session id",),
        ),
        Case(
            "split file in UTF-16 without a BOM",
            "iemocap",
            lambda r, t: (
                ["--splits", reencode(t / "p.yaml", "train: [Ses01F]\n".encode("utf-16-le"))],
                str(t / "p.yaml"),
            ),
            ("byte-order mark",),
        ),
        Case(
            "OpenFace of an image folder: every timestamp 0",
            "iemocap",
            openface(all_zero_timestamps),
            ("timestamps never increase", "--openface-fps", "re-run FeatureExtraction on the video"),
        ),
        Case("image-folder OpenFace with --openface-fps", "iemocap", fps_rebuilds, code=0),
        Case("OpenFace with ',' instead of ', ' separators", "iemocap", openface_without_spaces, code=0),
        Case("OpenFace header only", "iemocap", openface(lambda p: str(write(p, lines(p)[:1])) + ":2"), ("no frames",)),
        Case(
            "OpenFace file of 64 MiB of zero bytes",
            "iemocap",
            openface(lambda p: str(reencode(p, bytes(64 << 20))) + ":1"),
            ("the file is not text", "NUL bytes"),
        ),
        Case(
            "OpenFace success flag that is not 0/1",
            "iemocap",
            openface(lambda p: set_line(p, 3, lines(p)[2].replace(", 1, ", ", yes, ", 1))),
            ("success",),
        ),
        Case(
            "OpenFace confidence above 1",
            "iemocap",
            openface(
                lambda p: set_line(
                    p, 3, ", ".join(v if i != 3 else "1.7" for i, v in enumerate(lines(p)[2].split(", ")))
                )
            ),
            ("confidence",),
        ),
        Case(
            "OpenFace decimal comma",
            "iemocap",
            openface(lambda p: set_line(p, 4, lines(p)[3].replace(".", ",", 3))),
            ("decimal comma",),
        ),
        Case(
            "OpenFace infinite intensity",
            "iemocap",
            openface(
                lambda p: set_line(
                    p, 3, ", ".join(v if i != 7 else "inf" for i, v in enumerate(lines(p)[2].split(", ")))
                )
            ),
            ("outside 0..5",),
        ),
        Case(
            "OpenFace timestamp not a number",
            "iemocap",
            openface(
                lambda p: set_line(
                    p, 3, ", ".join(v if i != 2 else "0.1s" for i, v in enumerate(lines(p)[2].split(", ")))
                )
            ),
            ("timestamp",),
        ),
        Case("OpenFace file is a symlink loop", "iemocap", openface(lambda p: str(loop(p))), ("symbolic links",)),
        Case(
            "OpenFace file of one speaker missing", "iemocap", missing_openface, ("OpenFace files are missing",), code=0
        ),
        Case("OpenFace file that matches no speaker", "iemocap", stray_openface, ("match no dialogue",), code=0),
        Case(
            "--openface folder that does not exist",
            "iemocap",
            lambda r, t: (["--openface", t / "nowhere"], str(t / "nowhere")),
            ("does not exist",),
        ),
        Case("--openface-fps 0", "iemocap", lambda r, t: (["--openface-fps", "0"], "--openface-fps"), ("positive",)),
        Case("Vokaturi header only", "iemocap", vokaturi(lambda p: str(write(p, lines(p)[:1])) + ":2"), ("no rows",)),
        Case(
            "Vokaturi valid flag 'maybe'",
            "iemocap",
            vokaturi(lambda p: set_line(p, 2, lines(p)[1].replace(",1,", ",maybe,", 1))),
            ("valid flag",),
        ),
        Case(
            "Vokaturi decimal comma",
            "iemocap",
            vokaturi(lambda p: set_line(p, 2, lines(p)[1].split(",")[0] + ',1,"0,2",0.2,0.2,0.2,0.2')),
            ("0.5, not 0,5",),
        ),
        Case(
            "Vokaturi infinite probability",
            "iemocap",
            vokaturi(lambda p: set_line(p, 2, lines(p)[1].split(",")[0] + ",1,inf,0.2,0.2,0.2,0.2")),
            ("not a number in 0..1",),
        ),
        Case("Vokaturi in UTF-16 with a BOM", "iemocap", utf16(VOKATURI), code=0),
        Case(
            "--vokaturi file that does not exist",
            "iemocap",
            lambda r, t: (["--vokaturi", t / "none.csv"], str(t / "none.csv")),
            ("does not exist",),
        ),
        Case("--out is a directory", "iemocap", out_is_directory, ("--out is a directory",)),
        Case(
            "OpenFace pose_Tz 1e308 with a valid confidence",
            "iemocap",
            openface(overflowed_pose),
            ("pose_Tz 1e+308 is beyond what OpenFace writes",),
        ),
        Case(
            "a session folder replaced by a file",
            "iemocap",
            session_replaced_by_file(True),
            ("a file stands where the release has a folder",),
        ),
        Case(
            "a session folder replaced by a file, no preprocessing files",
            "iemocap",
            session_replaced_by_file(False),
            ("a file stands where the release has a folder",),
        ),
        Case(
            "--spec given for a release layout",
            "iemocap",
            lambda r, t: (["--spec", reencode(t / "s.yaml", b"name: x\n")], str(t / "s.yaml")),
            ("bring-your-own",),
        ),
    ]


# ---------------------------------------------------------------- SEMAINE


def _transcript(root: Path, role: str = "user") -> Path:
    return one(root, f"{SESSION}/wordLevel_alignedTranscript*_{role}*")


def _index(path: Path, text: str, nth: int = 0) -> int:
    """0-based index of the nth line equal to `text`."""
    return [i for i, row in enumerate(lines(path)) if row == text][nth]


def in_milliseconds(path: Path) -> str:
    """A FeelTrace file whose times were written in milliseconds (every label of the session would be wrong)."""
    write(path, [f"{float(t) * 1000:g} {v}" for t, v in (row.split() for row in lines(path) if row.strip())])
    return str(path)


def semaine_session_replaced_by_file(root, tmp):
    shutil.rmtree(root / SESSION)
    (root / SESSION).write_text("a copy replaced this folder by a file\n")
    return [], str(root / SESSION)


def no_session_xml(root, tmp):
    (root / SESSION / "session.xml").unlink()
    return [], str(root / SESSION)


def no_operator_transcript(root, tmp):
    _transcript(root, "operator").unlink()
    return [], ""


def cp1252_transcript(root, tmp):
    path = _transcript(root)
    rows = lines(path)
    rows[1] += "\u2019s"
    path.write_bytes(("\n".join(rows) + "\n").encode("cp1252"))
    return [], f"{path}:2"


def unknown_vokaturi_row(root, tmp):
    path = root / VOKATURI
    with path.open("a") as f:
        f.write("99_user_001,1,0.2,0.2,0.2,0.2,0.2\n")
    return [], f"{path}:{len(lines(path))}"


def semaine_cases() -> list[Case]:
    def edit_transcript(fn, role="user"):
        def damage(root, tmp):
            path = _transcript(root, role)
            rows = lines(path)
            where = fn(rows)
            write(path, rows)
            return [], f"{path}:{where}" if isinstance(where, int) else (where or "")

        return damage

    def drop_first_dot(rows):
        i = rows.index(".")
        del rows[i]
        return i + 1  # the next separator, now at this index, is where the turn is found open

    def truncate(rows):
        del rows[rows.index(".", len(rows) - 1) if rows[-1] == "." else len(rows) - 1]
        return len(rows)

    def word_after_dot(rows):
        i = rows.index(".")
        rows.insert(i + 1, "99999 99999 stray")
        return i + 2

    def dot_without_turn(rows):
        rows.insert(0, ".")
        return 1

    def no_dots(rows):
        rows[:] = [r for r in rows if r != "."]
        return None

    def other_separator_text(rows):
        rows[:] = [
            r.replace("---recording ", "---recording session 3 of the corpus ", 1) if r.startswith("---") else r
            for r in rows
        ]
        return None

    def malformed_separator(rows):
        rows[0] = rows[0].replace(" turn ", " tum ")
        return 1

    def xml(edit, where=True):
        def damage(root, tmp):
            path = root / SESSION / "session.xml"
            path.write_text(edit(path.read_text()))
            return [], str(path) if where else ""

        return damage

    def remove_media(root):
        for wav in root.glob("Sessions/*/*.wav"):
            wav.unlink()

    def no_datetime(root, tmp):
        remove_media(root)
        return [], f"{root / 'Sessions' / '1' / 'session.xml'}:1"

    def by_number(root, tmp):
        remove_media(root)
        return ["--splits", REPO / "examples" / "semaine" / "splits-by-recording.yaml"], ""

    def mixed_plan(root, tmp):
        path = tmp / "mixed.yaml"
        path.write_text("train: [1, 2]\ndev: [2009.05.12.15.02.01]\ntest: [3]\n")
        return ["--splits", path], f"{path}:2"

    def number_plan_text_recording(root, tmp):
        xml_path = root / SESSION / "session.xml"
        xml_path.write_text(xml_path.read_text().replace('recording="3"', 'recording="third"'))
        return ["--splits", REPO / "examples" / "semaine" / "splits-by-recording.yaml"], f"{xml_path}:1"

    def trace(edit, pattern="R1*TU*DV.txt"):
        def damage(root, tmp):
            path = one(root / SESSION, pattern)
            return [], edit(path)

        return damage

    def second_part_variant(root, tmp):
        for path in sorted((root / SESSION).glob("R1*.txt")):
            path.rename(path.with_name(path.name.replace("D", "2D", 1)))
        return [], ""

    def drop_intensity(root, tmp):
        for path in (root / SESSION).glob("R*TU*DI.txt"):
            path.unlink()
        return [], "no intensity trace of the user"

    def categorical(root, tmp):
        shutil.copy(one(root / SESSION, "R1*TU*DV.txt"), root / SESSION / "R1S3TUCPrDAn.txt")
        shutil.copy(one(root / SESSION, "R1*TU*DV.txt"), root / SESSION / "R1S3TUCPrDE.txt")
        return [], ""

    def hidden(root, tmp):
        reencode(root / "Sessions" / "._3", APPLEDOUBLE)
        reencode(root / SESSION / f"._{_transcript(root).name}", APPLEDOUBLE)
        reencode(root / SESSION / "._session.xml", APPLEDOUBLE)
        return [], ""

    return [
        Case("transcripts without '.' terminators (older copies)", "semaine", edit_transcript(no_dots), code=0),
        Case("any text between 'recording' and 'turn'", "semaine", edit_transcript(other_separator_text), code=0),
        Case("a turn without its '.' line", "semaine", edit_transcript(drop_first_dot), ("no end-of-turn '.'",)),
        Case("transcript cut inside a turn", "semaine", edit_transcript(truncate), ("ends inside turn",)),
        Case(
            "word after the end-of-turn '.'",
            "semaine",
            edit_transcript(word_after_dot),
            ("word after the end-of-turn",),
        ),
        Case("'.' without a turn", "semaine", edit_transcript(dot_without_turn), ("without a turn to end",)),
        Case(
            "malformed turn separator", "semaine", edit_transcript(malformed_separator), ("malformed turn separator",)
        ),
        Case("session folder without session.xml", "semaine", no_session_xml, ("without session.xml",)),
        Case("malformed session.xml", "semaine", xml(lambda s: s.replace("/>", ">")), ("malformed session.xml",)),
        Case(
            "session.xml without character",
            "semaine",
            xml(lambda s: s.replace("character=", "role=")),
            ("'character'",),
        ),
        Case(
            "an operator character none of the four (Bob)",
            "semaine",
            xml(lambda s: re.sub(r'character="\w+"', 'character="Bob"', s)),
            ("operator character 'Bob' is none of SEMAINE's four", "read as it is"),
            code=0,
        ),
        Case(
            "0-byte user transcript",
            "semaine",
            lambda r, t: ([], str(reencode(_transcript(r), b""))),
            ("transcript is empty",),
        ),
        Case(
            "operator transcript missing",
            "semaine",
            no_operator_transcript,
            ("no word-level transcript of the operator",),
            code=0,
            rows="fewer",
        ),
        Case(
            "transcript in UTF-16 with a BOM", "semaine", utf16(f"{SESSION}/wordLevel_alignedTranscript*_user*"), code=0
        ),
        Case("transcript in cp1252", "semaine", cp1252_transcript, ("Windows-1252",)),
        Case(
            "operator character 'beginning'",
            "semaine",
            xml(lambda s: s.replace('character="Prudence"', 'character="beginning"'), where=False),
            ("skipped 1 session", "beginning"),
            code=0,
            rows="fewer",
        ),
        Case(
            "integer recordings without a date-time in any file name",
            "semaine",
            no_datetime,
            ("carries no date-time", "--splits", "splits-by-recording.yaml"),
        ),
        Case("integer recordings with a split file by number", "semaine", by_number, code=0),
        Case("split file mixing numbers and date-times", "semaine", mixed_plan, ("all by number or all by date-time",)),
        Case(
            "a non-numeric recording with a split file by number",
            "semaine",
            number_plan_text_recording,
            ("is not a number",),
        ),
        Case("FeelTrace names with the optional '2'", "semaine", second_part_variant, code=0),
        Case(
            "a session's user intensity traces missing",
            "semaine",
            drop_intensity,
            ("no intensity trace of the user",),
            code=0,
        ),
        Case("categorical and expectation traces", "semaine", categorical, ("categorical",), code=0),
        Case("AppleDouble files in Sessions/ and a session folder", "semaine", hidden, code=0),
        Case(
            "trace value inf",
            "semaine",
            trace(lambda p: set_line(p, 2, lines(p)[1].split()[0] + " inf")),
            ("outside [-1, 1]",),
        ),
        Case(
            "trace decimal comma",
            "semaine",
            trace(lambda p: set_line(p, 3, lines(p)[2].split()[0] + " 0,25")),
            ("not a number",),
        ),
        Case("trace of 0 bytes", "semaine", trace(lambda p: str(reencode(p, b""))), ("empty trace",)),
        Case(
            "trace with an odd number of values",
            "semaine",
            trace(lambda p: set_line(p, 4, lines(p)[3] + " 0.1")),
            ("(time, value) pairs",),
        ),
        Case("Vokaturi row for an unknown utterance", "semaine", unknown_vokaturi_row, ("unknown utterance",)),
        Case("trace times in milliseconds", "semaine", trace(in_milliseconds), ("look like milliseconds",)),
        Case(
            "a SEMAINE session folder replaced by a file",
            "semaine",
            semaine_session_replaced_by_file,
            ("a file stands where a session folder belongs",),
        ),
    ]


# ---------------------------------------------------------------- bring your own (made from the synthetic IEMOCAP)

BYO_SPEC = """name: tinybyo
files:
  train: train.csv
  dev: dev.csv
  test: test.csv
columns:
  text: said
  speaker: who
  dialogue: conv
  order: idx
  session: sess
labels:
  emotion: {column: emotion, type: class}
  valence: {column: valence, type: regression}
features:
  words_per_minute: rate
  smile: smiled
"""


def write_byo(table: pd.DataFrame, data: Path) -> Path:
    """A bring-your-own copy of a talkturn table: three CSV files and a spec."""
    data.mkdir(parents=True)
    rows = pd.DataFrame(
        {
            "conv": table["dialogue"],
            "sess": table["session"],
            "idx": table["turn_index"] + 1,
            "who": table["speaker"],
            "said": table["text"],
            "emotion": table["label_emotion"],
            "valence": table["label_valence"],
            "rate": table["words_per_minute"].round(2),
            "smiled": table["smile"].map({True: 1, False: 0}),
            "part": table["split"],
        }
    )
    for part, frame in rows.groupby("part"):
        frame.drop(columns="part").to_csv(data / f"{part}.csv", index=False)
    (data / "spec.yaml").write_text(BYO_SPEC)
    return data


def sparse_padding(root: Path, tmp: Path):
    """A data file whose text is followed by a hole of 1 GiB (a file extended by `truncate`): it must be refused
    from its first block of zeros, never read whole."""
    path = root / "dev.csv"
    text_lines = len(lines(path))
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size + (1 << 30))
    return [], f"{path}:{text_lines + 1}"


def set_cell(file_name: str, column: str, value: str, row: int):
    """Write `value` into one cell of a CSV data file (line `row + 2` under the header)."""

    def damage(root, tmp):
        path = root / file_name
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.loc[row, column] = value
        frame.to_csv(path, index=False)
        return [], f"{path}:{row + 2}"

    return damage


def byo_cases() -> list[Case]:
    def cell(part: str, column: str, value: str, row: int = 0):
        return set_cell(f"{part}.csv", column, value, row)

    def spec(edit):
        def damage(root, tmp):
            path = root / "spec.yaml"
            path.write_text(edit(path.read_text()))
            return [], str(path)

        return damage

    def spec_line(edit, key):
        def damage(root, tmp):
            path = root / "spec.yaml"
            path.write_text(edit(path.read_text()))
            return [], f"{path}:{line_of(path, key)}"

        return damage

    def header_only(root, tmp):
        path = root / "dev.csv"
        write(path, lines(path)[:1])
        return [], f"{path}:2"

    def case_variant(root, tmp):
        path = root / "test.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        row = int((frame["emotion"] != "").to_numpy().nonzero()[0][0])
        frame.loc[row, "emotion"] = frame.loc[row, "emotion"].capitalize() + " "
        frame.to_csv(path, index=False)
        return [], f"{path}:{row + 2}"

    def duplicate_across(root, tmp):
        train, dev = (pd.read_csv(root / f"{p}.csv", dtype=str, keep_default_na=False) for p in ("train", "dev"))
        dev.loc[0, ["conv", "idx"]] = train.loc[0, ["conv", "idx"]].to_numpy()
        dev.loc[0, "sess"] = dev.loc[1, "sess"]
        dev.to_csv(root / "dev.csv", index=False)
        (root / "spec.yaml").write_text((root / "spec.yaml").read_text() + "ids: global\n")  # else ids count per file
        return [], f"{root / 'dev.csv'}:2"

    def session_across(root, tmp):
        train, dev = (pd.read_csv(root / f"{p}.csv", dtype=str, keep_default_na=False) for p in ("train", "dev"))
        dev.loc[0, "sess"] = train.loc[0, "sess"]
        dev.to_csv(root / "dev.csv", index=False)
        return [], str(root / "spec.yaml")

    def data_cp1252(root, tmp):
        path = root / "train.csv"
        path.write_bytes(path.read_text().replace("Why", "\u201cWhy\u201d", 1).encode("cp1252"))
        return [], str(path)

    def damaged_parquet(root, tmp):
        pd.read_csv(root / "test.csv").to_parquet(root / "test.parquet")
        (root / "test.parquet").write_bytes((root / "test.parquet").read_bytes()[:200])
        (root / "spec.yaml").write_text((root / "spec.yaml").read_text().replace("test.csv", "test.parquet"))
        return [], str(root / "test.parquet")

    def single_class(root, tmp):
        for part in ("train", "dev", "test"):
            path = root / f"{part}.csv"
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            frame.loc[frame["emotion"] != "", "emotion"] = "neutral"
            frame.to_csv(path, index=False)
        return [], f"{root / 'spec.yaml'}:{line_of(root / 'spec.yaml', '  emotion')}"

    def newline_inside_quotes(root, tmp):
        """A quoted cell spanning three lines, then a bad order value two records later: named at its own line."""
        path = root / "train.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.loc[0, "said"] = "one line\nand another\nand a third"
        frame.loc[2, "idx"] = "third"
        frame.to_csv(path, index=False)
        return [], f"{path}:{2 + 2 + 2}"  # the header, the first record's three lines, the second record

    def utf16_spec(root, tmp):
        path = root / "spec.yaml"
        path.write_bytes(codecs.BOM_UTF16_LE + path.read_text().encode("utf-16-le"))
        return [], ""

    def labels_of(part: str, value: str):
        """Every label cell of one split file set to `value` (empty: no talkturn of the split is labelled)."""

        def damage(root, tmp):
            path = root / f"{part}.csv"
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            frame["emotion"] = value
            frame.to_csv(path, index=False)
            return [], str(path)

        return damage

    def class_only_in_test(root, tmp):
        """The class 'sad' taken out of train and dev (relabelled 'neutral'): it remains in test only."""
        for part in ("train", "dev"):
            path = root / f"{part}.csv"
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            frame.loc[frame["emotion"] == "sad", "emotion"] = "neutral"
            frame.to_csv(path, index=False)
        return [], ""

    def duplicate_label_column(root, tmp):
        path = root / "train.csv"
        rows = lines(path)
        rows[0] = rows[0].replace("valence", "emotion", 1)
        write(path, rows)
        return [], f"{path}:1"

    return [
        Case("a split file with a header and no rows", "byo", header_only, ("header but no rows",)),
        Case("order inf", "byo", cell("train", "idx", "inf"), ("not a finite number",)),
        Case("order 1.5", "byo", cell("train", "idx", "1.5"), ("must be an integer",)),
        Case("order 'first'", "byo", cell("train", "idx", "first"), ("is not a number",)),
        Case("whitespace-only text", "byo", cell("train", "said", "   "), ("text is empty or only spaces",)),
        Case("whitespace-only speaker", "byo", cell("dev", "who", "  "), ("speaker is empty or only spaces",)),
        Case("empty dialogue id", "byo", cell("dev", "conv", ""), ("dialogue is empty",)),
        Case("class labels differing by case and spaces", "byo", case_variant, ("differ only by case",)),
        Case("class label of spaces only", "byo", cell("dev", "emotion", "   "), ("only spaces",)),
        Case("regression label inf", "byo", cell("train", "valence", "-inf"), ("not a finite number",)),
        Case("regression label beyond float range", "byo", cell("train", "valence", "1e400"), ("not a finite number",)),
        Case("regression label with a decimal comma", "byo", cell("test", "valence", "2,5"), ("decimal comma",)),
        Case("regression label NaN", "byo", cell("test", "valence", "NaN"), ("is not a number",)),
        Case("feature with a decimal comma", "byo", cell("train", "rate", "120,5"), ("decimal comma",)),
        Case("feature inf", "byo", cell("train", "rate", "inf"), ("not a finite number",)),
        Case("boolean feature 'maybe'", "byo", cell("dev", "smiled", "maybe"), ("not 0/1",)),
        Case(
            "a duplicate utterance across two files with ids: global",
            "byo",
            duplicate_across,
            ("duplicate utterance id", "also at"),
        ),
        Case("a session in two split files", "byo", session_across, ("appears in several split files",)),
        Case("data file in cp1252", "byo", data_cp1252, ("Windows-1252",)),
        Case("data file holding U+FFFD", "byo", cell("train", "said", "caf\ufffd"), ("U+FFFD",)),
        Case("a damaged Parquet file", "byo", damaged_parquet, ("cannot read Parquet",)),
        Case(
            "labels: Emotion (a string)",
            "byo",
            spec_line(
                lambda s: s.split("labels:")[0] + "labels: emotion\nfeatures:" + s.split("features:")[1], "labels"
            ),
            ("labels must be a mapping",),
        ),
        Case("spec in UTF-16 with a BOM", "byo", utf16_spec, code=0),
        Case(
            "a number among word class labels",
            "byo",
            cell("train", "emotion", "3"),
            ("holds number(s) ['3'] among word classes", "class of its own", "train.csv:2"),
            code=0,
        ),
        Case(
            "a talkturn whose text holds no word",
            "byo",
            cell("train", "said", "..."),
            ("1 talkturn(s) hold no word", "train.csv:2"),
            code=0,
        ),
        Case("a data file padded by a sparse 1 GiB of zero bytes", "byo", sparse_padding, ("the file is not text",)),
        Case(
            "every dev label empty",
            "byo",
            labels_of("dev", ""),
            ("no talkturn of the dev split has a label for emotion", "column 'emotion'"),
        ),
        Case("the text NaN in every dev label", "byo", labels_of("dev", "NaN"), ("text 'NaN'", "leave the cell empty")),
        Case("a label of NA", "byo", cell("train", "emotion", "NA"), ("text 'NA'", "column 'emotion'")),
        Case(
            "a class that only test has",
            "byo",
            class_only_in_test,
            ("class 'sad' of label_emotion has talkturns in", "test but none in train", "errors of every model"),
            code=0,
        ),
        Case("a duplicate label column", "byo", duplicate_label_column, ("column 'emotion' twice",)),
        Case(
            "a class label with a single class",
            "byo",
            single_class,
            ("has a single class, 'neutral'", "column 'emotion'"),
        ),
        Case(
            "a record with newlines inside quotes before a bad value",
            "byo",
            newline_inside_quotes,
            ("is not a number",),
        ),
        Case(
            "spec in UTF-16 without a BOM",
            "byo",
            lambda r, t: ([], str(reencode(r / "spec.yaml", (r / "spec.yaml").read_text().encode("utf-16-le")))),
            ("UTF-16 without a byte-order mark",),
        ),
        Case("empty name", "byo", spec_line(lambda s: s.replace("name: tinybyo", 'name: ""'), "name"), ("non-empty",)),
        Case(
            "name containing '.'",
            "byo",
            spec_line(lambda s: s.replace("name: tinybyo", "name: tiny.byo"), "name"),
            ("contains '.'",),
        ),
        Case(
            "label name containing '.'",
            "byo",
            spec_line(lambda s: s.replace("  valence: {", "  val.ence: {"), "  val.ence"),
            ("contains '.'",),
        ),
        Case(
            'speaker_disjoint: "false" as text',
            "byo",
            spec_line(lambda s: s + 'speaker_disjoint: "false"\n', "speaker_disjoint"),
            ("without quotes",),
        ),
        Case(
            "unknown key inside a label mapping",
            "byo",
            spec_line(lambda s: s.replace("type: class}", "type: class, colour: red}"), "  emotion"),
            ("unknown key",),
        ),
        Case(
            "the same file for two splits",
            "byo",
            spec_line(lambda s: s.replace("dev: dev.csv", "dev: ./train.csv"), "  dev"),
            ("same file as files.train",),
        ),
        Case(
            "a file path leaving the data root",
            "byo",
            spec_line(lambda s: s.replace("test: test.csv", "test: ../../etc/passwd"), "  test"),
            ("leaves the data root",),
        ),
        Case(
            "an absolute file path",
            "byo",
            spec_line(lambda s: s.replace("test: test.csv", "test: /etc/passwd"), "  test"),
            ("leaves the data root",),
        ),
        Case(
            "a spec with only a train file",
            "byo",
            spec_line(lambda s: s.replace("  dev: dev.csv\n  test: test.csv\n", ""), "files"),
            ("no dev or test file",),
        ),
        Case(
            "a spec that is not YAML",
            "byo",
            spec_line(lambda s: s.replace("  text: said", "  text: said: x"), "  text"),
            ("not valid YAML",),
        ),
        Case(
            "an unknown speaker_format",
            "byo",
            spec_line(lambda s: s + "speaker_format: csv\n", "speaker_format"),
            ("must be one of",),
        ),
        Case(
            "a feature the table does not know",
            "byo",
            spec_line(lambda s: s + "  mood: rate\n", "  mood"),
            ("unknown key 'features.mood'",),
        ),
        Case(
            "--partitions given for a bring-your-own dataset",
            "byo",
            lambda r, t: (["--splits", reencode(t / "p.yaml", b"train: [a]\n")], str(r / "spec.yaml")),
            ("cannot be used with a bring-your-own dataset",),
        ),
    ]


# ---------------------------------------------------------------- EmoryNLP (a slice of the real corpus)


def emorynlp_cases() -> list[Case]:
    def cell(part: str, column: str, value: str, row: int = 3):
        return set_cell(f"emorynlp_{part}_final.csv", column, value, row)

    def bom_and_crlf(root, tmp):
        for path in root.glob("*.csv"):
            path.write_bytes(codecs.BOM_UTF8 + path.read_bytes().replace(b"\n", b"\r\n"))
        return [], ""

    return [
        Case("EmoryNLP files with a BOM and CRLF line ends", "emorynlp", bom_and_crlf, code=0),
        Case(
            "EmoryNLP emotion 'Neutral ' beside 'Neutral'",
            "emorynlp",
            cell("dev", "Emotion", "neutral "),
            ("differ only by case",),
        ),
        Case("EmoryNLP Utterance_ID 1.5", "emorynlp", cell("train", "Utterance_ID", "1.5"), ("must be an integer",)),
        Case("EmoryNLP speaker '[]'", "emorynlp", cell("test", "Speaker", "[]"), ("speaker is empty",)),
        Case("EmoryNLP end time 00:00:xx", "emorynlp", cell("train", "End_Time", "00:00:xx"), ("cannot read time",)),
        Case("EmoryNLP utterance of spaces", "emorynlp", cell("test", "Utterance", "  "), ("text is empty",)),
        Case(
            "EmoryNLP talkturn of 10,000 words",
            "emorynlp",
            lambda r, t: (cell("train", "Utterance", "yeah " * 10_000)(r, t)[0], ""),
            ("faster than 600 words per minute", "times are probably wrong"),
            code=0,
        ),
    ]


# ---------------------------------------------------------------- settings and profiles (hanrock config)


def config_cases() -> list[Case]:
    def settings(text: str, key: str):
        def damage(root, tmp):
            path = tmp / "hanrock.yaml"
            path.write_text(text)
            return ["--file", path], f"{path}:{line_of(path, key)}"

        return damage

    def broken_spec(root, tmp):
        spec = tmp / "mine.yaml"
        spec.write_text(
            "name: mine\nfiles: {train: a.csv, dev: b.csv, test: c.csv}\ncolumns: {text: t, speaker: s, "
            "dialogue: d, order: o}\nlabels: Emotion\n"
        )
        path = tmp / "hanrock.yaml"
        path.write_text(f"datasets:\n  mine: {{spec: {spec}}}\n")
        return ["--file", path], f"{spec}:4"

    def profile(text: str, key: str):
        def damage(root, tmp):
            path = tmp / "mine.yaml"
            path.write_text("name: mine\n" + text)
            return ["--profile", path], f"{path}:{line_of(path, key)}"

        return damage

    return [
        Case(
            "settings synthetic.seed: abc",
            "settings",
            settings("synthetic:\n  seed: abc\n", "  seed"),
            ("whole number",),
        ),
        Case(
            "settings synthetic.scale: 2", "settings", settings("synthetic:\n  scale: 2\n", "  scale"), ("must be in",)
        ),
        Case("settings home: a list", "settings", settings("home: [a, b]\n", "home"), ("non-empty text",)),
        Case("settings unknown key", "settings", settings("homes: x\n", "homes"), ("unknown key",)),
        Case(
            "settings dataset name containing '.'",
            "settings",
            settings("datasets:\n  my.data: {spec: x.yaml}\n", "  my.data"),
            ("contains '.'",),
        ),
        Case(
            "settings openface_fps: thirty",
            "settings",
            settings("datasets:\n  iemocap: {openface_fps: thirty}\n", "  iemocap"),
            ("finite number",),
        ),
        Case("settings naming a broken spec", "settings", broken_spec, ("labels must be a mapping", "misconfigured")),
        Case(
            "settings file in UTF-16 without a BOM",
            "settings",
            lambda r, t: (
                ["--file", reencode(t / "h.yaml", b"h\x00o\x00m\x00e\x00:\x00 \x00x\x00\n\x00")],
                str(t / "h.yaml"),
            ),
            ("byte-order mark",),
        ),
        Case("profile epochs: eight", "profile", profile("epochs: eight\n", "epochs"), ("whole number",)),
        Case(
            "profile trials_per_condition: 2.5",
            "profile",
            profile("trials_per_condition: 2.5\n", "trials_per_condition"),
            ("whole number",),
        ),
        Case(
            "profile content_size bound 2.5",
            "profile",
            profile("space:\n  content_size: [1, 2.5]\n", "  content_size"),
            ("whole number",),
        ),
        Case("profile optimizer rmsprop", "profile", profile("optimizer: rmsprop\n", "optimizer"), ("must be one of",)),
        Case(
            "profile unknown median_pruning key",
            "profile",
            profile("median_pruning: {first: 5}\n", "median_pruning"),
            ("unknown key",),
        ),
        Case(
            "profile search range upside down",
            "profile",
            profile("space:\n  dropout: [0.5, 0.1]\n", "  dropout"),
            ("is above high",),
        ),
        Case(
            "settings dataset root that does not exist",
            "settings",
            settings("datasets:\n  iemocap:\n    root: /nowhere/iemocap\n", "    root"),
            ("datasets.iemocap.root: /nowhere/iemocap does not exist", "misconfigured"),
        ),
        Case(
            "profile learning rate outside Table 6",
            "profile",
            profile("space:\n  learning_rate: [0.0001, 0.1]\n", "  learning_rate"),
            ("outside Table 6's [2^-10, 2^-5]",),
        ),
        Case(
            "profile trials_per_condition: 10^20",
            "profile",
            profile("trials_per_condition: 100000000000000000000\n", "trials_per_condition"),
            ("trials_per_condition must be at most 1,000",),
        ),
        Case(
            "profile replicates: 10^9",
            "profile",
            profile("replicates: 1000000000\n", "replicates"),
            ("replicates must be at most 100",),
        ),
        Case(
            "profile bootstrap resamples: 10^12",
            "profile",
            profile("bootstrap: {resamples: 1000000000000}\n", "bootstrap"),
            ("bootstrap.resamples must be at most",),
        ),
        Case(
            "profile epochs given twice",
            "profile",
            profile("epochs: 3\nepochs: 5\n", "epochs: 5"),
            ("key 'epochs' is given twice (first on line 2)",),
        ),
        Case(
            "settings datasets given twice",
            "settings",
            lambda r, t: (settings("datasets: {}\nsynthetic: {scale: 0.1}\ndatasets: {}\n", "datasets")(r, t)[0], ":3"),
            ("key 'datasets' is given twice",),
        ),
        Case(
            "settings datasets tiny and Tiny",
            "settings",
            settings("datasets:\n  tiny: {spec: s.yaml}\n  Tiny: {spec: s.yaml}\n", "  Tiny"),
            ("datasets 'tiny' and 'Tiny' differ only by case",),
        ),
        Case(
            "settings dataset IEMOCAP beside the built-in iemocap",
            "settings",
            settings("datasets:\n  IEMOCAP: {spec: s.yaml}\n", "  IEMOCAP"),
            ("differ only by case",),
        ),
        Case(
            "settings synthetic.seed: 2^40",
            "settings",
            settings("synthetic:\n  seed: 1099511627776\n", "  seed"),
            ("must be at most",),
        ),
        Case(
            "settings openface_fps: 10^9",
            "settings",
            settings("datasets:\n  iemocap: {openface_fps: 1000000000}\n", "  iemocap"),
            ("must be in",),
        ),
        Case(
            "profile dropout outside Table 6",
            "profile",
            profile("space:\n  dropout: [0.1, 0.9]\n", "  dropout"),
            ("outside Table 6's [0, 0.5]",),
        ),
    ]


CASES = iemocap_cases() + semaine_cases() + byo_cases() + emorynlp_cases() + config_cases()


# ---------------------------------------------------------------- the runner


@pytest.fixture(scope="session")
def tiny_byo_master(tiny_iemocap_master, tmp_path_factory) -> Path:
    return write_byo(read_iemocap(tiny_iemocap_master), tmp_path_factory.mktemp("byo") / "data")


@pytest.fixture(scope="session")
def emorynlp_slice_master(tmp_path_factory) -> Path:
    """The first 60 talkturns of each EmoryNLP file, with the tutorial's spec."""
    if not EMORYNLP.exists():
        pytest.skip("../shared/data/emorynlp is not beside the checkout")
    data = tmp_path_factory.mktemp("emorynlp") / "data"
    data.mkdir()
    for path in EMORYNLP.glob("emorynlp_*_final.csv"):
        write(data / path.name, path.read_text(encoding="utf-8").splitlines()[:61])
    shutil.copy(REPO / "examples" / "emorynlp" / "dataset.yaml", data / "spec.yaml")
    return data


@pytest.fixture
def masters(request):
    """Undamaged inputs by corpus (fixtures are only built for the rows that need them)."""
    names = {
        "iemocap": "tiny_iemocap_master",
        "semaine": "tiny_semaine_master",
        "byo": "tiny_byo_master",
        "emorynlp": "emorynlp_slice_master",
    }
    return lambda corpus: request.getfixturevalue(names[corpus])


_BASELINE: dict[str, int] = {}


def _command(case: Case, root: Path, out: Path, extra: list) -> list:
    if case.corpus in ("settings", "profile"):
        return ["config", *extra]
    kind = "byo" if case.corpus in ("byo", "emorynlp") else case.corpus
    spec = ["--spec", root / "spec.yaml"] if kind == "byo" else []
    return ["load", kind, root, "--out", out, *spec, *extra]


def _rows_of(case: Case, master: Path, tmp_path: Path, capsys) -> int:
    """Talkturns of the undamaged input (once per corpus)."""
    if case.corpus not in _BASELINE:
        out = tmp_path / "baseline.parquet"
        code, _, err = run_cli(capsys, *_command(case, master, out, []))
        assert code == 0, err
        _BASELINE[case.corpus] = len(pd.read_parquet(out))
        out.unlink()
    return _BASELINE[case.corpus]


def test_the_table_covers_every_reader_and_the_spec():
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES), "case names must be unique"
    assert {c.corpus for c in CASES} == {"iemocap", "semaine", "byo", "emorynlp", "settings", "profile"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, masters, tmp_path, capsys):
    root = tmp_path / "input"
    if case.corpus in ("settings", "profile"):
        root.mkdir()
    else:
        shutil.copytree(masters(case.corpus), root, symlinks=True)
    out = tmp_path / "out" / "talkturns.parquet"
    extra, where = case.damage(root, tmp_path)
    code, _, err = run_cli(capsys, *_command(case, root, out, extra))
    assert "Traceback" not in err
    assert code == case.code, f"exit {code}, expected {case.code}: {err}"
    for text in ((where,) if where else ()) + case.says:
        assert text in err, f"{text!r} not in the message: {err}"
    if code != 0:
        assert "hanrock: error: " in err or "usage:" in err
        assert not out.is_file(), "a refused input must write nothing"
        assert not list(out.parent.glob(".*")), "a temporary file was left behind"
        return
    if case.corpus in ("settings", "profile"):
        return
    rows = len(pd.read_parquet(out))
    baseline = _rows_of(case, masters(case.corpus), tmp_path, capsys)
    if case.rows == "same":
        assert rows == baseline, f"{rows} talkturns read, {baseline} in the undamaged input"
    else:
        assert rows < baseline and ("hanrock: warning:" in err or "hanrock: info:" in err)


@pytest.fixture
def read_only_dir(tmp_path):
    with tmpfs(tmp_path / "ro", "ro,size=1m") as mount_point:
        yield mount_point


def test_a_settings_home_that_is_a_file_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HANROCK_HOME")
    (tmp_path / "afile").write_text("not a directory\n")
    path = tmp_path / "hanrock.yaml"
    path.write_text("synthetic: {scale: 0.1}\nhome: afile\n")
    code, _, err = run_cli(capsys, "config", "--file", path)
    assert code == 2 and f"{path}:2" in err and "is a file" in err and "Traceback" not in err


def test_out_on_a_read_only_file_system_is_refused_before_reading(read_only_dir, tiny_iemocap, capsys):
    code, _, err = run_cli(capsys, "load", "iemocap", tiny_iemocap, "--out", read_only_dir / "t.parquet")
    assert code == 2 and "read-only" in err and str(read_only_dir / "t.parquet") in err
    assert "Traceback" not in err and not list(read_only_dir.iterdir())
