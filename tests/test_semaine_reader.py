"""SEMAINE layout: talkturns from word-level transcripts, labels from rater-averaged traces."""

from __future__ import annotations

import re

import numpy as np
import pytest

from hanrock_core.reading.corpora import read_semaine
from hanrock_core.reading.corpora.semaine import span_means

from .helpers import assert_load_fails


def test_reads_sessions_roles_and_four_dimensions(tiny_semaine):
    table = read_semaine(tiny_semaine)
    assert set(table["speaker_noun"]) == {"user", "operator"}
    for dim in ("activation", "intensity", "power", "valence"):
        values = table[f"label_{dim}"]
        assert values.notna().all() and values.between(-1, 1).all()
    # session.xml numbers the recording; the paper's Table 5 date-time comes from the media file names
    assert table["session"].str.match(r"^\d{4}\.\d\d\.\d\d\.\d\d\.\d\d\.\d\d$").all()
    # the dialogue is a session folder and its talkturns are in time order
    assert table.groupby("dialogue")["start_s"].apply(lambda s: s.is_monotonic_increasing).all()


def test_talkturn_is_a_transcript_turn(tiny_semaine):
    table = read_semaine(tiny_semaine)
    row = table.iloc[0]
    folder = tiny_semaine / "Sessions" / row["dialogue"]
    role = row["speaker_noun"]
    lines = next(folder.glob(f"wordLevel_alignedTranscript*_{role}*")).read_text().splitlines()
    turn = int(row["utterance_id"].rsplit("_", 1)[1])
    at = lines.index(next(line for line in lines if line.endswith(f"turn {turn}---")))
    words = []
    for line in lines[at + 1 :]:
        if line == ".":  # the release's end-of-turn line
            break
        words.append(line.split()[2])
    assert row["text"] == " ".join(words)
    assert row["start_s"] == pytest.approx(int(lines[at + 1].split()[0]) / 1000)


def test_labels_average_raters_over_the_span(tiny_semaine):
    table = read_semaine(tiny_semaine)
    row = table[table["speaker_noun"] == "user"].iloc[2]
    folder = tiny_semaine / "Sessions" / row["dialogue"]
    means = []
    for path in sorted(folder.glob("R*TU*DV.txt")):
        samples = np.loadtxt(path)
        inside = (samples[:, 0] >= row["start_s"]) & (samples[:, 0] <= row["end_s"])
        means.append(
            samples[inside, 1].mean() if inside.any() else np.interp((row["start_s"] + row["end_s"]) / 2, *samples.T)
        )
    assert len(means) == 2
    assert row["label_valence"] == pytest.approx(np.mean(means))


def test_span_mean_falls_back_to_the_midpoint():
    samples = np.array([[0.0, 0.0], [1.0, 1.0]])
    assert span_means(samples, np.array([0.2]), np.array([0.4]))[0] == pytest.approx(0.3)
    assert span_means(samples, np.array([0.0]), np.array([1.0]))[0] == pytest.approx(0.5)


@pytest.mark.parametrize("attribute", ['character="beginning"', 'character="End"', 'status="forbidden"'])
def test_skipped_sessions_are_left_out_and_said(tiny_semaine, attribute):
    from hanrock_core.base.notices import Notices

    before = read_semaine(tiny_semaine)
    xml = tiny_semaine / "Sessions" / "1" / "session.xml"
    name = attribute.split("=")[0]
    text = xml.read_text()
    text = (
        re.sub(rf'{name}="[^"]*"', attribute, text)
        if f"{name}=" in text
        else text.replace("<session ", f"<session {attribute} ")
    )
    xml.write_text(text)
    notices = Notices()
    after = read_semaine(tiny_semaine, notices=notices)
    assert "1" in set(before["dialogue"]) and "1" not in set(after["dialogue"])
    said = [n.message for n in notices.items if "skipped 1 session" in n.message]
    assert said and attribute.split("=")[1].strip('"') in said[0]


def test_bad_word_line_and_trace_value(tiny_semaine, tmp_path, capsys):
    transcript = next((tiny_semaine / "Sessions" / "2").glob("wordLevel_alignedTranscript*_user*"))
    lines = transcript.read_text().splitlines()
    lines[2] = "1200 900 hello"
    transcript.write_text("\n".join(lines) + "\n")
    assert_load_fails(capsys, tmp_path, "semaine", tiny_semaine, f"{transcript}:3", "end before start")
    lines[2] = "twelve 900 hello"
    transcript.write_text("\n".join(lines) + "\n")
    assert_load_fails(capsys, tmp_path, "semaine", tiny_semaine, f"{transcript}:3", "malformed word line")


def test_trace_value_out_of_range(tiny_semaine, tmp_path, capsys):
    trace = sorted((tiny_semaine / "Sessions" / "3").glob("R1*DA.txt"))[0]
    lines = trace.read_text().splitlines()
    lines[4] = lines[4].split()[0] + " 1.7"
    trace.write_text("\n".join(lines) + "\n")
    assert_load_fails(capsys, tmp_path, "semaine", tiny_semaine, f"{trace}:5", "outside [-1, 1]")


def test_paper_duplicate_session_is_refused(tiny_semaine, tmp_path, capsys):
    plan = tmp_path / "table5-as-printed.yaml"
    from hanrock_core.reading.splits import default_split_file

    text = default_split_file("semaine").read_text().replace("2009.06.26.14.38.18", "2009.06.26.14.38.17")
    plan.write_text(text)
    line = [i for i, row in enumerate(text.splitlines(), 1) if row.strip() == "- 2009.06.26.14.38.17"][-1]
    assert_load_fails(
        capsys, tmp_path, "semaine", tiny_semaine, f"{plan}:{line}", "listed in 'dev'", extra=("--partitions", plan)
    )
