"""Fixtures written in the corpora's real release formats (tests/fixtures/release_formats/README.md),
read through the real readers and compared with their exact expected talkturn tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hanrock_core.base.notices import Notices
from hanrock_core.reading.corpora import read_iemocap, read_semaine
from hanrock_core.reading.corpora.openface import read_openface_csv

from .conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "release_formats"

IEMOCAP_EXPECTED = pd.DataFrame(
    [
        # utterance_id, dialogue, session, speaker, noun, split, start, end, text, emotion, v, a, d
        (
            "Ses01F_impro01_F000",
            "Ses01F_impro01",
            "Ses01F",
            "Ses01_F",
            "woman",
            "train",
            6.2901,
            8.2357,
            "Excuse me.",
            "neutral",
            2.5,
            2.5,
            2.5,
        ),
        (
            "Ses01F_impro01_M000",
            "Ses01F_impro01",
            "Ses01F",
            "Ses01_M",
            "man",
            "train",
            7.5712,
            10.4750,
            "Do you have your forms?",
            None,
            2.0,
            3.5,
            3.0,
        ),
        (
            "Ses01F_impro01_F001",
            "Ses01F_impro01",
            "Ses01F",
            "Ses01_F",
            "woman",
            "train",
            10.0100,
            11.3925,
            "Yeah, I've got \u201cevery\u201d one of them!",
            "happy",
            4.0,
            4.0,
            3.5,
        ),
        (
            "Ses01F_impro01_M001",
            "Ses01F_impro01",
            "Ses01F",
            "Ses01_M",
            "man",
            "train",
            14.8872,
            18.0175,
            "Let me see them.",
            None,
            2.5,
            3.0,
            3.0,
        ),
        (
            "Ses04M_script01_1b_M000",
            "Ses04M_script01_1b",
            "Ses04M",
            "Ses04_M",
            "man",
            "dev",
            1.0,
            2.5,
            "Brilliant news.",
            "happy",
            4.5,
            3.5,
            3.0,
        ),
        (
            "Ses04M_script01_1b_F000",
            "Ses04M_script01_1b",
            "Ses04M",
            "Ses04_F",
            "woman",
            "dev",
            3.0,
            4.25,
            "Okay.",
            "neutral",
            3.0,
            2.0,
            2.5,
        ),
        (
            "Ses05F_impro03_F000",
            "Ses05F_impro03",
            "Ses05F",
            "Ses05_F",
            "woman",
            "test",
            0.5,
            3.0,
            "You never listen!",
            "angry",
            1.5,
            4.5,
            4.0,
        ),
        (
            "Ses05F_impro03_M000",
            "Ses05F_impro03",
            "Ses05F",
            "Ses05_M",
            "man",
            "test",
            3.5,
            6.0,
            "I know.",
            "sad",
            1.5,
            1.5,
            2.0,
        ),
    ],
    columns=[
        "utterance_id",
        "dialogue",
        "session",
        "speaker",
        "speaker_noun",
        "split",
        "start_s",
        "end_s",
        "text",
        "label_emotion",
        "label_valence",
        "label_activation",
        "label_dominance",
    ],
)


def _compare(table: pd.DataFrame, expected: pd.DataFrame) -> None:
    got = table[list(expected.columns)].reset_index(drop=True)
    want = expected.astype({c: got[c].dtype for c in expected.columns})
    pd.testing.assert_frame_equal(got, want, check_exact=False, atol=1e-9)


def test_iemocap_release_format_reads_exactly():
    notices = Notices()
    table = read_iemocap(FIXTURES / "iemocap", notices=notices)
    _compare(table, IEMOCAP_EXPECTED)
    assert list(table["turn_index"]) == [0, 1, 2, 3, 0, 1, 0, 1]
    # OpenFace: `, ` headers for F, `,` for M; the failed frame (6.3 s) is not counted
    assert list(table["openface_frames"].iloc[:4]) == [19, 29, 13, 32]
    assert list(table["au05_r"].iloc[:4]) == pytest.approx([1.0, 0.5, 2.0, 0.5])
    assert table["au25_r"].iloc[:4].tolist() == pytest.approx([1.2] * 4)
    assert table["au05_c"].iloc[:4].tolist() == [True] * 4 and table["smile"].iloc[:4].tolist() == [True] * 4
    assert table["au05_r"].iloc[4:].isna().all()  # no OpenFace files for sessions 4 and 5: said, not hidden
    # Vokaturi: a valid row, an invalid (too short) one, no row
    assert table["tone_happiness"].iloc[0] == pytest.approx(0.1) and np.isnan(table["tone_happiness"].iloc[1])
    assert table["tone_happiness"].iloc[2] == pytest.approx(0.7) and table["tone_happiness"].iloc[3:].isna().all()
    said = "\n".join(n.render() for n in notices.items)
    assert "ignored 2 hidden file(s)" in said and "4 of 6 dialogue-speaker OpenFace files are missing" in said


def test_openface_header_styles_read_the_same_columns():
    comma_space = read_openface_csv(FIXTURES / "iemocap" / "preprocessing" / "openface" / "Ses01F_impro01_F.csv")
    comma = read_openface_csv(FIXTURES / "iemocap" / "preprocessing" / "openface" / "Ses01F_impro01_M.csv")
    assert list(comma_space.columns) == list(comma.columns)
    assert comma_space["timestamp"].iloc[0] == pytest.approx(6.0) and comma["timestamp"].iloc[0] == pytest.approx(7.0)


SEMAINE_EXPECTED = pd.DataFrame(
    [
        # utterance_id, dialogue, session (recording number), speaker, noun, split, start, end, text, v, a, p, i
        ("1_user_001", "1", "1", "1_user", "user", "train", 1.2, 1.9, "HELLO THERE", 0.4, 0.1, 0.2, -0.4),
        (
            "1_operator_002",
            "1",
            "1",
            "1_operator",
            "operator",
            "train",
            2.3,
            3.3,
            "HOW ARE YOU",
            None,
            None,
            None,
            None,
        ),
        ("1_user_003", "1", "1", "1_user", "user", "train", 5.1, 5.8, "<LAUGH> YES", 0.025, 0.1, 0.2, -0.4),
        ("1_operator_004", "1", "1", "1_operator", "operator", "train", 6.2, 6.5, "GOOD", None, None, None, None),
        ("5_user_001", "5", "2", "2_user", "user", "dev", 0.8, 1.5, "I'M ANGRY", -0.5, 0.6, 0.7, 0.8),
        ("5_operator_002", "5", "2", "2_operator", "operator", "dev", 2.0, 2.4, "GOOD", None, None, None, None),
        ("9_user_001", "9", "3", "3_user", "user", "test", 0.5, 1.3, "SO TIRED", -0.6, -0.3, -0.2, 0.1),
        ("9_operator_002", "9", "3", "3_operator", "operator", "test", 1.8, 2.6, "OH DEAR", None, None, None, None),
    ],
    columns=[
        "utterance_id",
        "dialogue",
        "session",
        "speaker",
        "speaker_noun",
        "split",
        "start_s",
        "end_s",
        "text",
        "label_valence",
        "label_activation",
        "label_power",
        "label_intensity",
    ],
).astype({f"label_{t}": "float64" for t in ("valence", "activation", "power", "intensity")})


def test_semaine_release_format_reads_exactly():
    notices = Notices()
    table = read_semaine(
        FIXTURES / "semaine", split_file=FIXTURES / "semaine" / "splits-by-recording.yaml", notices=notices
    )
    _compare(table, SEMAINE_EXPECTED)
    # valence of 1_user_001: rater 1 (R1S1TUCPoDV) 0.5 and rater 2 (R2S1TUCPo2DV, the `2` variant) 0.3
    said = "\n".join(n.render() for n in notices.items)
    assert "skipped 1 session(s)" in said and "2 (character 'beginning')" in said
    assert "1 categorical, 1 expectation" in said
    assert "operator has no valence trace in any session" in said
    assert not notices.warnings


def test_semaine_release_with_the_default_table5_split_says_what_to_do(capsys):
    from .helpers import run_cli

    code, _, err = run_cli(capsys, "load", "semaine", FIXTURES / "semaine")
    assert code == 2
    assert "recording 1 carries no date-time" in err and "--splits" in err
    assert "this copy has recordings ['1', '2', '3']" in err and "splits-by-recording.yaml" in err


def test_semaine_date_time_from_media_file_names_matches_table5(tiny_semaine, tmp_path):
    """The synthetic corpus is released-style: integer recordings, date-times in its media file names."""
    xml = (tiny_semaine / "Sessions" / "1" / "session.xml").read_text()
    assert 'recording="1"' in xml
    by_datetime = read_semaine(tiny_semaine)
    by_number = read_semaine(tiny_semaine, split_file=REPO / "examples" / "semaine" / "splits-by-recording.yaml")
    pd.testing.assert_series_equal(by_datetime["split"], by_number["split"])
    assert by_datetime["session"].str.match(r"^\d{4}\.").all() and by_number["session"].str.isdigit().all()
