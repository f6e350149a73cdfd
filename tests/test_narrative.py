"""MONAH narratives: exact sentences for hand-made talkturns, every rule at its edges."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hanrock_core.base.errors import InputError
from hanrock_core.preparation.narrative import (
    SpeakerNorms,
    build_narratives,
    delay_phrase,
    normalise,
    phrase_counts,
    speed_word,
    tone_word,
)
from hanrock_core.reading.talkturn import FEATURES, missing_column


def _table(n: int, **columns) -> pd.DataFrame:
    base = pd.DataFrame(
        {
            "dialogue": "d",
            "turn_index": range(n),
            "utterance_id": [f"u{i}" for i in range(n)],
            "speaker": "w",
            "speaker_noun": "woman",
            "text": ["ok"] * n,
            "split": "train",
        }
    )
    for name in FEATURES:
        base[name] = missing_column(name, base.index)
    for name, values in columns.items():
        base[name] = pd.Series(values, index=base.index, dtype=base[name].dtype if name in base else None)
    return base


def test_the_papers_example():
    table = _table(
        10,
        text=["no"] + ["fine"] * 9,
        au17_c=[True] + [False] * 9,
        tone_sadness=[0.9] + [0.1] * 9,  # z = 3 for the first talkturn
        words_per_minute=[140, 150, 170, 150, 170, 150, 170, 150, 170, 160],  # z = -1.67
    )
    narrative = build_narratives(table, "vpa").iloc[0]
    assert narrative == "The woman raised chin. The woman sadly and slowly said no."
    assert normalise(narrative) == "woman raised chin woman sadly and slowly said no"
    assert build_narratives(table, "v").iloc[0] == "The woman said no."
    assert build_narratives(table, "va").iloc[0] == "The woman raised chin. The woman said no."
    assert build_narratives(table, "vp").iloc[0] == "The woman sadly and slowly said no."


def test_several_actions_and_a_delay():
    table = _table(
        3,
        speaker=["m", "w", "w"],
        speaker_noun=["man", "woman", "woman"],
        text=["Hi.", "Oh, hello!", "bye"],
        smile=[False, True, False],
        au25_c=[False, True, False],
        head_nod=[False, True, False],
        delay_s=[0.55, np.nan, np.nan],
    )
    narratives = build_narratives(table, "vpa")
    # the woman's only response delay is hers, so its z is 0: "a slightly long delay"
    assert narratives.iloc[1] == (
        "The woman smiled, dropped jaw and nodded. After five hundred milliseconds "
        "a slightly long delay the woman said Oh, hello!"
    )
    assert narratives.iloc[0] == "The man said Hi."
    assert narratives.iloc[2] == "The woman said bye."  # same speaker again: no response delay


@pytest.mark.parametrize(
    "z, word",
    [
        ({"tone_happiness": 2.0}, None),
        ({"tone_happiness": 2.01}, "happily"),
        ({"tone_happiness": 3, "tone_anger": 2.5}, "angrily"),
        ({"tone_happiness": 3, "tone_anger": 3, "tone_sadness": 2.1}, "sadly"),
        ({"tone_sadness": 1.99}, None),
    ],
)
def test_tone_threshold_and_priority(z, word):
    assert tone_word(z) == word


@pytest.mark.parametrize(
    "z, word",
    [
        (-2.01, "very slowly"),
        (-2.0, "slowly"),
        (-1.01, "slowly"),
        (-1.0, None),
        (0.99, None),
        (1.0, "quickly"),
        (1.99, "quickly"),
        (2.0, "very quickly"),
    ],
)
def test_speed_edges(z, word):
    assert speed_word(z) == word


@pytest.mark.parametrize(
    "delay, z, phrase",
    [
        (0.199, 0.0, None),
        (0.2, 0.5, "after two hundred milliseconds a slightly long delay"),
        (0.299, -1.0, "after two hundred milliseconds a short delay"),
        (0.3, -1.01, "after three hundred milliseconds"),
        (1.2, 1.0, "after twelve hundred milliseconds a long delay"),
        (1.201, 2.0, "after more than twelve hundred milliseconds a significantly long delay"),
        (0.7, 1.99, "after seven hundred milliseconds a long delay"),
        (np.nan, 0.0, None),
    ],
)
def test_delay_edges(delay, z, phrase):
    assert delay_phrase(delay, z) == phrase


def test_zscores_are_per_speaker_and_zero_without_spread():
    values = pd.Series([1.0, 3.0, 5.0, 5.0, np.nan, 5.0])
    speakers = pd.Series(["a", "a", "b", "b", "a", "c"])
    norms = SpeakerNorms({"a": {"x": (2.0, 1.0)}, "b": {"x": (5.0, 0.0)}}, {"x": (3.5, 1.5)})
    # c was never seen: its value is measured against the pooled norm
    np.testing.assert_allclose(norms.zscores("x", values, speakers), [-1.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    assert norms.unseen(speakers) == ["c"]


def test_measured_norms_are_each_speakers_mean_and_sd_and_survive_the_card():
    table = _table(4, words_per_minute=[100.0, 200.0, 120.0, np.nan])
    table["speaker"] = ["a", "a", "b", "b"]
    norms = SpeakerNorms.measure(table)
    assert norms.speakers["a"]["words_per_minute"] == (150.0, 50.0)
    assert norms.speakers["b"]["words_per_minute"] == (120.0, 0.0)
    assert norms.pooled["words_per_minute"][0] == pytest.approx(140.0)
    again = SpeakerNorms.from_card(json.loads(json.dumps(norms.to_card())))
    assert json.dumps(again.to_card()) == json.dumps(norms.to_card())  # NaN (no values) survives as NaN
    # a subset of the talkturns gets the words the whole table gave when handed the whole table's norms
    whole = build_narratives(table, "vp")
    assert build_narratives(table.iloc[2:], "vp", norms).tolist() == whole.iloc[2:].tolist()


def test_missing_features_add_no_words():
    table = _table(4, tone_sadness=[0.9, 0.1, 0.1, np.nan])
    assert build_narratives(table).iloc[3] == "The woman said ok."


def test_normalisation():
    assert normalise("The woman said It's the end, isn't it? A man an apple.") == "woman said its end isnt it man apple"


def test_a_family_needs_its_columns():
    table = _table(2).drop(columns=["smile"])
    with pytest.raises(InputError, match="family 'vpa' needs columns \\['smile'\\]"):
        build_narratives(table, "vpa")
    assert build_narratives(table, "vp").iloc[0] == "The woman said ok."  # actions switched off: fine
    with pytest.raises(InputError, match="unknown narrative family"):
        build_narratives(table, "x")


def test_phrase_counts_ignore_spoken_words():
    narratives = pd.Series(["The woman smiled. The woman very slowly said I smiled slowly.", "The man slowly said no."])
    counts = phrase_counts(narratives).set_index("phrase")["talkturns"]
    assert counts["smiled"] == 1 and counts["very slowly"] == 1 and counts["slowly"] == 1


def test_kept_punctuation_becomes_tokens_and_the_paper_drops_it():
    narrative = "The woman said really?! No way... it's a cat!"
    assert normalise(narrative) == "woman said really no way its cat"
    assert normalise(narrative, "?!") == "woman said really ? ! no way its cat !"
