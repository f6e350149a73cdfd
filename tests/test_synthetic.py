"""The embedded synthetic corpus: exact paper counts, byte reproducibility, a planted ground truth."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hanrock_core.base.errors import InputError
from hanrock_core.reading.corpora import read_iemocap, read_semaine
from hanrock_core.reading.paper_tables import IEMOCAP_SESSIONS, SEMAINE_SESSIONS
from hanrock_core.reading.synthetic import GROUND_TRUTH_FILE, generate

from .helpers import run_cli


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("corpus", ["iemocap", "semaine"])
def test_same_seed_writes_the_same_bytes(tmp_path, corpus):
    a = generate(corpus, tmp_path / "a", scale=0.02, seed=3)
    b = generate(corpus, tmp_path / "b", scale=0.02, seed=3)
    c = generate(corpus, tmp_path / "c", scale=0.02, seed=4)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


def test_full_scale_iemocap_matches_tables_4_and_5(tmp_path, capsys):
    code, out, err = run_cli(capsys, "synth", "iemocap", tmp_path / "i", "--scale", "1", "--seed", "0")
    assert code == 0, err
    table = read_iemocap(tmp_path / "i")
    assert len(table) == 10_039
    assert table["split"].value_counts().to_dict() == {"train": 5766, "dev": 2103, "test": 2170}
    assert table.groupby("session").size().to_dict() == {s: n for s, (_, n) in IEMOCAP_SESSIONS.items()}
    assert table["label_emotion"].value_counts().to_dict() == {
        "neutral": 1708,
        "happy": 1636,
        "angry": 1103,
        "sad": 1084,
    }
    assert table["emotion_code"].value_counts()["exc"] == 1041
    assert table["label_emotion"].isna().sum() == 10_039 - 5_531


def test_full_scale_semaine_matches_table_5(tmp_path):
    table = read_semaine(generate("semaine", tmp_path / "s", scale=1.0, seed=0))
    assert len(table) == 11_964
    assert table.groupby("session").size().to_dict() == {s: n for s, (_, n) in SEMAINE_SESSIONS.items()}
    assert table.groupby("session")["split"].first().to_dict() == {s: p for s, (p, _) in SEMAINE_SESSIONS.items()}


def test_refuses_a_non_empty_directory_and_bad_scale(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        generate("iemocap", tmp_path / "x", scale=0.02)
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"
    with pytest.raises(InputError, match="scale"):
        generate("iemocap", tmp_path / "y", scale=0)
    assert not (tmp_path / "y").exists()


@pytest.fixture(scope="module")
def medium_iemocap(tmp_path_factory):
    root = generate("iemocap", tmp_path_factory.mktemp("m") / "i", scale=0.3, seed=1)
    table = read_iemocap(root)
    truth = pd.read_csv(root / GROUND_TRUTH_FILE).set_index("utterance_id").loc[table["utterance_id"]]
    return table, truth.reset_index()


def test_ground_truth_side_file_covers_every_talkturn(medium_iemocap):
    table, truth = medium_iemocap
    assert list(truth["utterance_id"]) == list(table["utterance_id"])
    assert {"valence", "arousal", "dominance", "scenario", "intended_emotion"} <= set(truth.columns)


def test_labels_follow_the_latent_state_noisily(medium_iemocap):
    table, truth = medium_iemocap
    for label, latent in (
        ("label_valence", "valence"),
        ("label_activation", "arousal"),
        ("label_dominance", "dominance"),
    ):
        r = np.corrcoef(table[label], truth[latent])[0, 1]
        assert 0.6 < r < 0.99, (label, r)  # informative, but raters are noisy
    agree = (table["label_emotion"] == truth["intended_emotion"])[table["label_emotion"].notna()].mean()
    assert 0.4 < agree < 0.95


def test_nonverbal_features_carry_the_state(medium_iemocap):
    table, truth = medium_iemocap
    pairs = [
        ("tone_happiness", "valence", 1),
        ("tone_sadness", "valence", -1),
        ("au17_r", "valence", -1),
        ("au05_r", "arousal", 1),
        ("words_per_minute", "arousal", 1),
    ]
    for feature, latent, sign in pairs:
        ok = table[feature].notna()
        r = np.corrcoef(table.loc[ok, feature].astype(float), truth.loc[ok, latent])[0, 1]
        assert sign * r > 0.3, (feature, latent, r)
    smile_valence = truth.loc[table["smile"].fillna(False).to_numpy(), "valence"].mean()
    assert smile_valence > truth["valence"].mean() + 0.3


def test_nonverbal_features_add_information_beyond_words(medium_iemocap):
    """Predicting the latent valence from words alone is beaten by words + nonverbal features."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import RidgeCV

    table, truth = medium_iemocap
    train, test = (table["split"] == "train").to_numpy(), (table["split"] == "test").to_numpy()
    words = CountVectorizer().fit(table.loc[train, "text"])
    x_words = words.transform(table["text"]).toarray()
    nonverbal = table[
        ["au05_r", "au17_r", "au20_r", "au25_r", "tone_happiness", "tone_sadness", "tone_anger", "words_per_minute"]
    ].astype(float)
    x_all = np.hstack([x_words, nonverbal.fillna(nonverbal[train].mean()).to_numpy()])
    y = truth["valence"].to_numpy()
    r2_words = RidgeCV().fit(x_words[train], y[train]).score(x_words[test], y[test])
    r2_all = RidgeCV().fit(x_all[train], y[train]).score(x_all[test], y[test])
    assert r2_words > 0.2  # words are informative ...
    assert r2_all > r2_words + 0.05  # ... but the nonverbal signals add to them


def test_neighbouring_labels_are_informative(medium_iemocap):
    table, _ = medium_iemocap
    prev = table.groupby("dialogue")["label_valence"].shift(1)
    ok = prev.notna()
    assert np.corrcoef(prev[ok], table.loc[ok, "label_valence"])[0, 1] > 0.3


def test_text_reads_like_conversation(medium_iemocap):
    table, _ = medium_iemocap
    vocab = {
        w
        for t in table["text"]
        for w in t.lower().replace(",", " ").replace(".", " ").replace("?", " ").replace("!", " ").split()
    }
    assert 200 <= len(vocab) <= 1000
    lengths = table["text"].str.split().map(len)
    assert 2 <= lengths.median() <= 20
