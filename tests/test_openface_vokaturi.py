"""OpenFace CSVs and Vokaturi results: per-talkturn aggregation rules and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hanrock_core.base.errors import InputError
from hanrock_core.reading.corpora.openface import aggregate_talkturns, read_openface_csv

from .helpers import assert_load_fails

COLUMNS = [
    "frame",
    "face_id",
    "timestamp",
    "confidence",
    "success",
    "AU05_r",
    "AU17_r",
    "AU20_r",
    "AU25_r",
    "AU05_c",
    "AU17_c",
    "AU20_c",
    "AU25_c",
    "AU06_c",
    "AU12_c",
]


def _frames(n: int, fps: float = 10.0, **overrides) -> pd.DataFrame:
    data = {c: np.zeros(n) for c in COLUMNS}
    data["frame"] = np.arange(1, n + 1)
    data["timestamp"] = np.arange(n) / fps
    data["confidence"] = np.full(n, 0.95)
    data["success"] = np.ones(n)
    data.update({k: np.asarray(v, dtype=float) for k, v in overrides.items()})
    return pd.DataFrame(data)


def _write(df: pd.DataFrame, path, leading_space: bool = True):
    sep = ", " if leading_space else ","
    lines = [sep.join(df.columns)] + [sep.join(f"{v:g}" for v in row) for row in df.to_numpy()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("leading_space", [True, False])
def test_headers_with_or_without_leading_spaces(tmp_path, leading_space):
    frames = read_openface_csv(_write(_frames(5), tmp_path / "f.csv", leading_space))
    assert "AU05_r" in frames.columns and "timestamp" in frames.columns


def test_aggregation_ignores_failed_and_low_confidence_frames():
    r = np.array([1.0, 2.0, 4.9, 3.0, 5.0, 1.0])
    frames = _frames(
        6, AU05_r=r, success=[1, 1, 0, 1, 1, 1], confidence=[0.9, 0.9, 0.9, 0.9, 0.2, 0.9], AU05_c=[1, 1, 0, 1, 0, 1]
    )
    out = aggregate_talkturns(frames, np.array([0.0, 0.38]), np.array([0.35, 0.42]))
    assert out["au05_r"].iloc[0] == pytest.approx(2.0)  # frames 0, 1, 3: (1 + 2 + 3) / 3
    assert bool(out["au05_c"].iloc[0]) is True  # the failed frame's 0 does not count
    assert int(out["openface_frames"].iloc[0]) == 3
    assert pd.isna(out["au05_r"].iloc[1]) and pd.isna(out["smile"].iloc[1])  # only the low-confidence frame


@pytest.mark.parametrize("run_frames, expected", [(5, True), (4, False)])
def test_smile_needs_a_half_second_run(run_frames, expected):
    both = np.zeros(20)
    both[5 : 5 + run_frames] = 1  # at 10 fps, 5 frames = 0.5 s
    out = aggregate_talkturns(_frames(20, AU06_c=both, AU12_c=both), np.array([0.0]), np.array([1.95]))
    assert bool(out["smile"].iloc[0]) is expected
    assert bool(out["positive_expression"].iloc[0]) is False


def test_time_span_is_inclusive_at_both_ends():
    out = aggregate_talkturns(_frames(10, AU17_r=np.arange(10)), np.array([0.2]), np.array([0.4]))
    assert out["au17_r"].iloc[0] == pytest.approx(3.0)  # frames at 0.2, 0.3, 0.4


@pytest.mark.parametrize(
    "change, message, column",
    [
        (lambda df: df.drop(columns="AU20_r"), "lacks column 'AU20_r'", "AU20_r"),
        (lambda df: df.assign(AU05_r=[0.5, np.nan, 0.5, 0.5, 0.5]), "NaN or outside 0..5", "AU05_r"),
        (lambda df: df.assign(AU25_r=[0.5, 0.5, 7.0, 0.5, 0.5]), "NaN or outside 0..5", "AU25_r"),
        (lambda df: df.assign(timestamp=[0.0, 0.1, 0.2, 0.15, 0.3]), "timestamps go backwards", "timestamp"),
    ],
)
def test_bad_openface_files(tmp_path, change, message, column):
    path = _write(change(_frames(5)), tmp_path / "f.csv")
    with pytest.raises(InputError, match=message) as info:
        read_openface_csv(path)
    assert info.value.path == str(path) and info.value.column == column
    if "lacks" not in message:
        row = {"AU05_r": 3, "AU25_r": 4, "timestamp": 5}[column]  # header is line 1
        assert info.value.line == row


def test_bad_openface_file_inside_a_corpus_fails_the_load(tiny_iemocap, tmp_path, capsys):
    path = sorted((tiny_iemocap / "preprocessing" / "openface").glob("*.csv"))[0]
    lines = path.read_text().splitlines()
    lines[3], lines[4] = lines[4], lines[3]
    path.write_text("\n".join(lines) + "\n")
    assert_load_fails(capsys, tmp_path, "iemocap", tiny_iemocap, f"{path}:5", "timestamps go backwards")


def test_vokaturi_row_for_an_unknown_utterance(tiny_iemocap, tmp_path, capsys):
    path = tiny_iemocap / "preprocessing" / "vokaturi.csv"
    with path.open("a") as f:
        f.write("Ses09F_impro01_F000,1,0.2,0.2,0.2,0.2,0.2\n")
    n = len(path.read_text().splitlines())
    assert_load_fails(
        capsys, tmp_path, "iemocap", tiny_iemocap, f"{path}:{n}", "unknown utterance 'Ses09F_impro01_F000'"
    )


def test_vokaturi_invalid_rows_are_missing_and_bad_probabilities_refused(tiny_iemocap, tmp_path, capsys):
    from hanrock_core.reading.corpora import read_iemocap

    path = tiny_iemocap / "preprocessing" / "vokaturi.csv"
    rows = pd.read_csv(path)
    valid_uid = rows.loc[rows["valid"] == 1, "utterance_id"].iloc[0]
    invalid = rows["valid"] == 0
    table = read_iemocap(tiny_iemocap).set_index("utterance_id")
    assert table.loc[rows.loc[invalid, "utterance_id"], "tone_fear"].isna().all()
    assert table.loc[valid_uid, "tone_fear"] == pytest.approx(rows.set_index("utterance_id").loc[valid_uid, "fear"])
    rows.loc[rows["utterance_id"] == valid_uid, "anger"] = 0.9
    rows.to_csv(path, index=False)
    line = int(np.flatnonzero(rows["utterance_id"] == valid_uid)[0]) + 2
    assert_load_fails(capsys, tmp_path, "iemocap", tiny_iemocap, f"{path}:{line}", "sum to")
