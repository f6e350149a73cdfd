"""One reader choice: a dataset names its layout (`corpus:`), so any name can use any layout, and a new
layout is one reader module plus one entry in `reading/layouts.py` (docs/architecture.md's recipe)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hanrock_core.base.errors import InputError
from hanrock_core.preparation.datasets import dataset_metrics, dataset_tasks, load_dataset
from hanrock_core.preparation.settings import load_settings
from hanrock_core.reading import layouts
from hanrock_core.reading.corpora import read_corpus
from hanrock_core.reading.layouts import Layout, ReadingOptions
from hanrock_core.reading.synthetic import generate
from hanrock_core.reading.talkturn import REQUIRED, finalise_table
from tests.conftest import TINY_SCALE


def test_two_datasets_with_other_names_share_one_layout(tmp_path):
    first = generate("iemocap", tmp_path / "studio-a", scale=TINY_SCALE, seed=1)
    second = generate("iemocap", tmp_path / "studio-b", scale=TINY_SCALE, seed=2)
    (tmp_path / "hanrock.yaml").write_text(
        f"home: {tmp_path / 'home'}\n"
        "datasets:\n"
        f"  studio_a: {{corpus: iemocap, root: {first}}}\n"
        f"  studio_b: {{corpus: iemocap, root: {second}, metrics: {{emotion: weighted_f1}}}}\n"
    )
    settings = load_settings(tmp_path / "hanrock.yaml")
    for name in ("studio_a", "studio_b"):
        assert settings.dataset(name).corpus == "iemocap"
        assert dataset_tasks(settings, name) == ("emotion", "valence", "activation", "dominance")
    # the kind of a task comes from the layout, not from the dataset's or the task's name
    assert dataset_metrics(settings, "studio_a")["emotion"] == dataset_metrics(settings, "iemocap")["emotion"]
    assert dataset_metrics(settings, "studio_b") == {**dataset_metrics(settings, "iemocap"), "emotion": "weighted_f1"}
    tables = {name: load_dataset(settings, name, log=lambda _: None)[0] for name in ("studio_a", "studio_b")}
    assert set(tables["studio_a"]["dataset"]) == {"studio_a"} and set(tables["studio_b"]["dataset"]) == {"studio_b"}
    assert not tables["studio_a"]["text"].equals(tables["studio_b"]["text"])  # each read its own root


@pytest.mark.parametrize(
    "entry, message",
    [
        ("{corpus: nosuch, root: ROOT}", "datasets.mine.corpus must be one of ['iemocap', 'semaine', 'byo']"),
        ("{corpus: byo, root: ROOT}", "a bring-your-own dataset needs a 'spec'"),
        (
            "{corpus: iemocap, root: ROOT, spec: ROOT}",
            "datasets.mine.spec cannot be used with a dataset in the IEMOCAP",
        ),
        ("{root: ROOT}", "dataset 'mine' needs a 'spec' (a bring-your-own dataset spec YAML) or a 'corpus' layout"),
    ],
)
def test_a_layout_that_cannot_read_the_entry_is_refused_with_its_line(tmp_path, entry, message):
    (tmp_path / "hanrock.yaml").write_text(
        f"home: {tmp_path / 'home'}\ndatasets:\n  mine: {entry.replace('ROOT', str(tmp_path))}\n"
    )
    settings = load_settings(tmp_path / "hanrock.yaml")
    with pytest.raises(InputError) as caught:
        settings.dataset("mine")
    assert message in str(caught.value) and "hanrock.yaml:3" in str(caught.value)


def read_table_layout(root: Path, options: ReadingOptions, notices, require_labels: bool) -> pd.DataFrame:
    """A layout of one file: a folder holding `talkturns.csv` (the recipe's 'a module returning the talkturn
    table through talkturn.finalise_table')."""
    frame = pd.read_csv(Path(root) / "talkturns.csv")
    return finalise_table(frame, str(root))


def test_adding_a_layout_is_a_reader_and_one_entry_in_layouts(tmp_path, monkeypatch, tiny_iemocap):
    source = read_corpus("iemocap", tiny_iemocap)
    folder = tmp_path / "one-file"
    folder.mkdir()
    keep = [*REQUIRED, "label_emotion"]
    source[keep].to_csv(folder / "talkturns.csv", index=False)
    monkeypatch.setitem(
        layouts.LAYOUTS,
        "table",
        Layout("table", f"{__name__}:read_table_layout", (), {"emotion": True}, "a one-file talkturn table"),
    )
    (tmp_path / "hanrock.yaml").write_text(
        f"home: {tmp_path / 'home'}\ndatasets:\n  calls: {{corpus: table, root: {folder}}}\n"
    )
    settings = load_settings(tmp_path / "hanrock.yaml")
    assert dataset_tasks(settings, "calls") == ("emotion",)
    table, root = load_dataset(settings, "calls", log=lambda _: None)
    assert root == folder and len(table) == len(source)
    assert list(table["text"]) == list(source.sort_values(["dialogue", "turn_index"])["text"])
    with pytest.raises(InputError, match="--splits cannot be used with a one-file talkturn table"):
        read_corpus("table", folder, ReadingOptions(splits=folder / "talkturns.csv"))
