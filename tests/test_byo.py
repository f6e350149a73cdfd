"""Bring-your-own talkturn tables: the EmoryNLP example and spec errors."""

from __future__ import annotations

import pandas as pd
import pytest

from hanrock_core.base.errors import InputError
from hanrock_core.reading.corpora import read_byo

from .conftest import EMORYNLP, REPO
from .helpers import assert_load_fails, run_cli

SPEC = REPO / "examples" / "emorynlp" / "dataset.yaml"
needs_emorynlp = pytest.mark.skipif(not EMORYNLP.exists(), reason="../shared/data/emorynlp is not beside the checkout")


@needs_emorynlp
def test_emorynlp_loads_with_its_published_counts(tmp_path, capsys):
    code, out, err = run_cli(capsys, "load", "byo", EMORYNLP, "--spec", SPEC, "--out", tmp_path / "e.parquet")
    assert code == 0, err
    table = pd.read_parquet(tmp_path / "e.parquet")
    sizes = table.groupby("split").size().to_dict()
    assert sizes == {"train": 7551, "dev": 954, "test": 984}
    assert table[table["split"] == "train"]["dialogue"].nunique() == 659
    assert table["label_emotion"].nunique() == 7
    first = table[table["dialogue"] == "dev/1_15_1"].iloc[0]  # dialogue ids count within their file
    assert first["text"] == "Coffee." and first["speaker"] == "Rachel Green"
    assert first["start_s"] == pytest.approx(3.795)
    assert "Monica Geller & Phoebe Buffay" in set(table["speaker"])


def _small_dataset(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = pd.DataFrame(
        {
            "conv": ["a", "a", "b", "b", "c"],
            "idx": [2, 1, 1, 2, 1],
            "who": ["x", "y", "z", "w", "v"],
            "said": ["hi there", "hello", "bye", "see you", "later"],
            "mood": [0.5, -0.2, 0.1, 0.0, 0.3],
            "rate": [120, 130, 150, 110, 100],
        }
    )
    rows.iloc[:2].to_csv(data / "train.csv", index=False)
    rows.iloc[2:4].to_parquet(data / "test.parquet", index=False)
    rows.iloc[4:].to_csv(data / "dev.csv", index=False)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: mine\nfiles:\n  train: train.csv\n  test: test.parquet\n  dev: dev.csv\n"
        "columns:\n  text: said\n  speaker: who\n"
        "  dialogue: conv\n  order: idx\nlabels:\n  mood: {column: mood, type: regression}\n"
        "features:\n  words_per_minute: rate\n"
    )
    return data, spec


def test_csv_and_parquet_splits_with_order_and_features(tmp_path):
    data, spec = _small_dataset(tmp_path)
    table = read_byo(spec, data).set_index("utterance_id")
    assert list(table.loc[["train/a_1", "train/a_2", "test/b_1", "test/b_2", "dev/c_1"], "text"]) == [
        "hello",
        "hi there",
        "bye",
        "see you",
        "later",
    ]
    assert list(table.loc[["train/a_1", "train/a_2", "test/b_1"], "turn_index"]) == [0, 1, 0]
    assert list(table.loc[["train/a_1", "train/a_2", "test/b_1", "test/b_2", "dev/c_1"], "words_per_minute"]) == [
        130,
        120,
        150,
        110,
        100,
    ]
    assert table["label_mood"].dtype == "float64"


def test_spec_naming_a_missing_column(tmp_path, capsys):
    data, spec = _small_dataset(tmp_path)
    spec.write_text(spec.read_text().replace("speaker: who", "speaker: speaker_name"))
    assert_load_fails(
        capsys,
        tmp_path,
        "byo",
        data,
        f"{spec}:8",
        "columns.speaker names column 'speaker_name'",
        extra=("--spec", spec),
    )


def test_spec_with_an_unknown_key_and_a_missing_file(tmp_path, capsys):
    data, spec = _small_dataset(tmp_path)
    original = spec.read_text()
    spec.write_text(original + "colour: blue\n")
    assert_load_fails(capsys, tmp_path, "byo", data, f"{spec}:15", "unknown key 'colour'", extra=("--spec", spec))
    spec.write_text(original.replace("test.parquet", "missing.parquet"))
    assert_load_fails(capsys, tmp_path, "byo", data, "missing.parquet", "data file not found", extra=("--spec", spec))


def test_duplicate_ids_and_shared_speakers(tmp_path, capsys):
    data, spec = _small_dataset(tmp_path)
    df = pd.read_csv(data / "train.csv")
    df.loc[1, "idx"] = 2
    df.to_csv(data / "train.csv", index=False)
    assert_load_fails(
        capsys, tmp_path, "byo", data, f"{data / 'train.csv'}:3", "duplicate utterance id", extra=("--spec", spec)
    )
    df.loc[1, "idx"] = 1
    df.loc[1, "who"] = "z"  # z also talks in the test split
    df.to_csv(data / "train.csv", index=False)
    assert_load_fails(capsys, tmp_path, "byo", data, "speaker 'z' appears in several splits", extra=("--spec", spec))


def test_byo_needs_a_spec(tmp_path, capsys):
    assert_load_fails(capsys, tmp_path, "byo", tmp_path, "needs --spec")


def _restarting_ids(tmp_path, extra: str = ""):
    """Dialogue_ID 0, 1 in every split file, as many public corpora have them."""
    data = tmp_path / "restart"
    data.mkdir()
    for part in ("train", "dev", "test"):
        pd.DataFrame(
            {
                "Dialogue_ID": [0, 0, 1, 1],
                "Utterance_ID": [0, 1, 0, 1],
                "Speaker": [f"{part}{j}" for j in (0, 1, 2, 3)],
                "Utterance": ["hi", "yes", "no", "ok"],
                "Emotion": ["joy", "anger", "joy", "neutral"],
            }
        ).to_csv(data / f"{part}.csv", index=False)
    spec = tmp_path / "restart.yaml"
    spec.write_text(
        "name: restart\nfiles: {train: train.csv, dev: dev.csv, test: test.csv}\n"
        "columns: {text: Utterance, speaker: Speaker, dialogue: Dialogue_ID, order: Utterance_ID}\n"
        "labels:\n  emotion: {column: Emotion, type: class, metric: weighted_f1}\n" + extra
    )
    return data, spec


def test_dialogue_ids_that_restart_in_every_file_load(tmp_path):
    data, spec = _restarting_ids(tmp_path)
    table = read_byo(spec, data)
    assert len(table) == 12 and table["dialogue"].nunique() == 6
    assert set(table["utterance_id"]) >= {"train/0_0", "dev/0_0", "test/1_1"}


def test_global_ids_name_both_places_of_a_clash(tmp_path, capsys):
    data, spec = _restarting_ids(tmp_path, "ids: global\n")
    err = assert_load_fails(
        capsys, tmp_path, "byo", data, f"{data / 'dev.csv'}:2", "duplicate utterance id '0_0'", extra=("--spec", spec)
    )
    assert f"also at {data / 'train.csv'}:2" in err


def test_the_spec_names_each_label_s_metric(tmp_path):
    from hanrock_core.reading.corpora.byo import load_spec

    _, spec = _restarting_ids(tmp_path)
    assert load_spec(spec).labels["emotion"]["metric"] == "weighted_f1"
    spec.write_text(spec.read_text().replace("metric: weighted_f1", "metric: mae"))
    with pytest.raises(InputError, match="not a classification metric"):
        load_spec(spec)


@needs_emorynlp
def test_the_season_cut_reads_with_the_same_spec_and_keeps_test_apart(tmp_path):
    """examples/emorynlp/season_cut.py: train's season 4 becomes dev, the published dev is left out, test is
    the published test; the tutorial's spec reads the cut unchanged."""
    import runpy
    import sys

    cut = tmp_path / "cut"
    argv, sys.argv = sys.argv, ["season_cut.py", str(EMORYNLP), str(cut)]
    try:
        with pytest.raises(SystemExit) as done:
            runpy.run_path(str(REPO / "examples" / "emorynlp" / "season_cut.py"), run_name="__main__")
    finally:
        sys.argv = argv
    assert done.value.code == 0
    table = read_byo(SPEC, cut)
    assert table.groupby("split").size().to_dict() == {"train": 6050, "dev": 1501, "test": 984}
    seasons = table["dialogue"].str.extract(r"^\w+/(\d+)_")[0]
    assert set(seasons[table["split"] == "dev"]) == {"4"} and "4" not in set(seasons[table["split"] == "train"])
