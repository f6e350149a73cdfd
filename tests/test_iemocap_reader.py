"""IEMOCAP release layout: parsing, the 4-class mapping, splits, and every bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hanrock_core.reading.corpora import read_iemocap

from .helpers import assert_load_fails, run_cli


def _eval_file(root: Path) -> Path:
    return sorted((root / "IEMOCAP_full_release").glob("Session1/dialog/EmoEvaluation/*.txt"))[0]


def _line_starting(path: Path, prefix: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(prefix))


def test_reads_the_release_with_labels_and_features(tiny_iemocap):
    table = read_iemocap(tiny_iemocap)
    assert set(table["label_emotion"].dropna()) <= {"angry", "happy", "neutral", "sad"}
    excited = table["emotion_code"] == "exc"
    assert (table.loc[excited, "label_emotion"] == "happy").all()
    assert table.loc[table["emotion_code"].isin(["xxx", "fru"]), "label_emotion"].isna().all()
    assert table[["label_valence", "label_activation", "label_dominance"]].notna().all().all()
    first = table.iloc[0]
    assert first["speaker"] in {"Ses01_F", "Ses01_M"} and first["speaker_noun"] in {"woman", "man"}
    assert table.groupby("dialogue")["start_s"].apply(lambda s: s.is_monotonic_increasing).all()
    assert table["au05_r"].notna().all() and table["tone_happiness"].notna().mean() > 0.8


def test_also_accepts_the_release_folder_itself(tiny_iemocap):
    a = read_iemocap(tiny_iemocap)
    b = read_iemocap(
        tiny_iemocap / "IEMOCAP_full_release",
        openface_dir=tiny_iemocap / "preprocessing" / "openface",
        vokaturi_csv=tiny_iemocap / "preprocessing" / "vokaturi.csv",
    )
    pd.testing.assert_frame_equal(a.drop(columns="dataset"), b.drop(columns="dataset"))


def test_load_writes_parquet_and_summary(tiny_iemocap, tmp_path, capsys):
    code, out, err = run_cli(capsys, "load", "iemocap", tiny_iemocap, "--out", tmp_path / "t.parquet")
    assert code == 0, err
    assert "train" in out and "label_emotion" in out and "feature coverage" in out
    assert len(pd.read_parquet(tmp_path / "t.parquet")) == len(read_iemocap(tiny_iemocap))


def test_missing_preprocessing_outputs_leave_features_missing(tiny_iemocap):
    for f in (tiny_iemocap / "preprocessing" / "openface").glob("*.csv"):
        f.unlink()
    (tiny_iemocap / "preprocessing" / "vokaturi.csv").unlink()
    table = read_iemocap(tiny_iemocap)
    assert table["au05_r"].isna().all() and table["tone_anger"].isna().all()
    assert table["words_per_minute"].notna().all()


def test_malformed_evaluation_line(tiny_iemocap, tmp_path, capsys):
    path = _eval_file(tiny_iemocap)
    lines = path.read_text().splitlines()
    n = _line_starting(path, "[")
    lines[n - 1] = lines[n - 1].replace(" - ", " to ")
    path.write_text("\n".join(lines) + "\n")
    assert_load_fails(capsys, tmp_path, "iemocap", tiny_iemocap, f"{path}:{n}", "malformed evaluation line")


def test_transcription_with_a_bad_time_range(tiny_iemocap, tmp_path, capsys):
    path = sorted((tiny_iemocap / "IEMOCAP_full_release").glob("Session2/dialog/transcriptions/*.txt"))[0]
    lines = path.read_text().splitlines()
    start, end = lines[1].split("[")[1].split("]")[0].split("-")
    lines[1] = lines[1].replace(f"[{start}-{end}]", f"[{end}-{start}]")
    path.write_text("\n".join(lines) + "\n")
    assert_load_fails(capsys, tmp_path, "iemocap", tiny_iemocap, f"{path}:2", "bad time range")


def test_duplicate_utterance_ids(tiny_iemocap, tmp_path, capsys):
    path = _eval_file(tiny_iemocap)
    lines = path.read_text().splitlines()
    blocks = [i for i, line in enumerate(lines) if line.startswith("[")]
    first_uid = lines[blocks[0]].split("\t")[1]
    second_uid = lines[blocks[1]].split("\t")[1]
    lines[blocks[1]] = lines[blocks[1]].replace(second_uid, first_uid)
    path.write_text("\n".join(lines) + "\n")
    assert_load_fails(capsys, tmp_path, "iemocap", tiny_iemocap, f"{path}:{blocks[1] + 1}", "duplicate utterance id")


def test_session_in_two_partitions(tiny_iemocap, tmp_path, capsys):
    plan = tmp_path / "split.yaml"
    plan.write_text(
        "train: [Ses01F, Ses01M, Ses02F, Ses02M, Ses03F, Ses03M]\ndev: [Ses04F, Ses04M]\n"
        "test: [Ses05F, Ses05M, Ses04F]\n"
    )
    assert_load_fails(
        capsys, tmp_path, "iemocap", tiny_iemocap, f"{plan}:3", "Ses04F", "listed in 'dev'", extra=("--splits", plan)
    )


def test_speaker_in_two_partitions(tiny_iemocap, tmp_path, capsys):
    plan = tmp_path / "split.yaml"  # Ses01F and Ses01M share their two actors
    plan.write_text(
        "train: [Ses01F, Ses02F, Ses02M, Ses03F, Ses03M]\ndev: [Ses01M, Ses04F, Ses04M]\ntest: [Ses05F, Ses05M]\n"
    )
    assert_load_fails(
        capsys,
        tmp_path,
        "iemocap",
        tiny_iemocap,
        str(plan),
        "speaker 'Ses01_",
        "several splits",
        extra=("--splits", plan),
    )


def test_session_missing_from_the_split_file(tiny_iemocap, tmp_path, capsys):
    plan = tmp_path / "split.yaml"
    plan.write_text("train: [Ses01F, Ses01M]\n")
    assert_load_fails(capsys, tmp_path, "iemocap", tiny_iemocap, "not assigned to a split", extra=("--splits", plan))


def test_empty_corpus_root(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert_load_fails(capsys, tmp_path, "iemocap", tmp_path / "empty", "no EmoEvaluation files found")
    assert_load_fails(capsys, tmp_path, "semaine", tmp_path / "empty", "no Sessions/ folder")
    assert_load_fails(capsys, tmp_path, "iemocap", tmp_path / "absent", "not a directory")
