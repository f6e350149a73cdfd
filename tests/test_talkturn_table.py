"""The canonical talkturn table: derived prosody numbers, ordering, validation, split files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hanrock_core.base.errors import InputError
from hanrock_core.reading.paper_tables import IEMOCAP_SESSIONS, SEMAINE_SESSIONS
from hanrock_core.reading.splits import default_split_file, load_split_plan
from hanrock_core.reading.talkturn import FEATURES, REQUIRED, delay_to_other_speaker, finalise_table


def _table(speakers, starts, ends, dialogue="d1"):
    n = len(speakers)
    return pd.DataFrame(
        {
            "dataset": "t",
            "session": "s",
            "dialogue": dialogue,
            "turn_index": range(n),
            "utterance_id": [f"{dialogue}_{i}" for i in range(n)],
            "speaker": speakers,
            "speaker_noun": "woman",
            "start_s": starts,
            "end_s": ends,
            "text": ["one two three"] * n,
            "split": "train",
        }
    )


def test_delay_is_to_the_other_speakers_next_talkturn():
    t = _table(["a", "a", "b", "a", "c"], [0, 2, 5, 7, 9.5], [1, 3, 6, 8, 10])
    delay = delay_to_other_speaker(t).to_numpy()
    np.testing.assert_allclose(delay, [4.0, 2.0, 1.0, 1.5, np.nan])


def test_finalise_orders_types_and_derives(tmp_path):
    t = _table(["a", "b"], [2.0, 0.0], [3.5, 1.0])
    t["turn_index"] = [5, 1]
    t["label_mood"] = [1.0, 2.0]
    out = finalise_table(t, "test")
    assert list(out["utterance_id"]) == ["d1_1", "d1_0"] and list(out["turn_index"]) == [0, 1]
    assert out["words_per_minute"].tolist() == pytest.approx([180.0, 120.0])
    assert set(REQUIRED) | set(FEATURES) | {"label_mood"} <= set(out.columns)
    assert out["smile"].dtype == "boolean" and out["label_mood"].dtype == "float64"


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("split", "validation", "unknown split"),
        ("utterance_id", "d1_0", "duplicate utterance ids"),
        ("text", None, "have no text"),
    ],
)
def test_validation_errors(column, value, message):
    t = _table(["a", "b"], [0.0, 2.0], [1.0, 3.0])
    t.loc[1, column] = value
    with pytest.raises(InputError, match=message):
        finalise_table(t, "test")


def test_default_split_files_are_table_5():
    for corpus, sessions in (("iemocap", IEMOCAP_SESSIONS), ("semaine", SEMAINE_SESSIONS)):
        plan = load_split_plan(default_split_file(corpus))
        assert plan.session_split == {s: p for s, (p, _) in sessions.items()}


def test_unknown_split_name_in_a_file(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("train: [a]\nvalidation: [b]\n")
    with pytest.raises(InputError, match="unknown split 'validation'") as info:
        load_split_plan(path)
    assert info.value.line == 2


def test_an_unwritable_or_full_data_directory_fails_before_any_work(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from hanrock_core.preparation.settings import check_data_directory

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(InputError, match="the data directory cannot be written") as info:
        check_data_directory(blocker / "home")
    assert str(blocker / "home") in str(info.value)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 10 * 2**20, 10 * 2**20))
    with pytest.raises(InputError, match="only 10 MiB free in the data directory"):
        check_data_directory(tmp_path / "home")
    monkeypatch.undo()
    assert check_data_directory(tmp_path / "home").root == tmp_path / "home"


def test_files_and_settings_from_before_splits_were_called_splits_are_read(tmp_path):
    """A stored table with a `partition` column, and `partitions:` in the settings (`--partitions` is
    tried in test_semaine_reader), still work; naming both the old and the new key is refused."""
    from hanrock_assets.storage import read_table
    from hanrock_core.base.home import Home
    from hanrock_core.preparation.settings import load_settings

    path = Home(tmp_path).asset_file("raw_sessions", "iemocap")
    path.parent.mkdir(parents=True)
    pd.DataFrame({"utterance_id": ["a"], "partition": ["train"]}).to_parquet(path)
    assert list(read_table(Home(tmp_path), "raw_sessions", "iemocap").columns) == ["utterance_id", "split"]
    settings = tmp_path / "hanrock.yaml"
    (tmp_path / "mine.yaml").write_text("train: [Ses01F]\n")
    settings.write_text("datasets:\n  iemocap: {partitions: mine.yaml}\n")
    assert load_settings(settings).dataset("iemocap").splits == tmp_path / "mine.yaml"
    settings.write_text("datasets:\n  iemocap: {partitions: mine.yaml, splits: mine.yaml}\n")
    with pytest.raises(InputError, match="names both splits and partitions"):
        load_settings(settings).dataset("iemocap")


def test_words_are_counted_in_every_script():
    from hanrock_core.reading.talkturn import count_words

    texts = ["I don't know.", "我今天很高兴", "café au lait 😀", "😀😀", "well-known 3.5", "ありがとう ございます"]
    assert count_words(pd.Series(texts)).tolist() == [3, 6, 3, 0, 4, 10]
