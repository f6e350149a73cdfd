"""Text preprocessing outputs as auxiliary supervisors: lexicon scores of a talkturn (and of the next one),
percentile-ranked against train, on by default where a corpus has no facial actions or voice tone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hanrock_core.preparation.auxiliary_target import (
    PAPER_FAMILIES,
    AuxiliarySpec,
    available_families,
    build_auxiliary_targets,
    default_families,
)
from hanrock_core.preparation.text_lexicons import LEXICON_COLUMNS, NEXT_COLUMNS, lexicon_scores, talkturn_scores
from hanrock_core.reading.corpora.iemocap import read_iemocap
from hanrock_core.study.hypotheses import conditions
from hanrock_core.study.profiles import load_profile


def _scores(text: str) -> dict[str, float]:
    return dict(zip(LEXICON_COLUMNS, talkturn_scores(text), strict=True))


def test_the_lexicons_tell_a_glad_talkturn_from_an_angry_one():
    glad, angry = (
        _scores("I love you, this is wonderful and I am so happy!"),
        _scores("I hate you. You ruined it, idiot."),
    )
    assert glad["lex_vader_compound"] > 0.5 > -0.5 > angry["lex_vader_compound"]
    assert glad["lex_polarity"] > 0 > angry["lex_polarity"]
    assert glad["lex_nrc_joy"] > 0 and angry["lex_nrc_anger"] > 0 and angry["lex_nrc_joy"] == 0
    empty = _scores("")
    assert empty["lex_vader_neu"] == 0 and all(v == 0 for k, v in empty.items() if "nrc" in k)


def test_the_next_talkturns_scores_stay_in_the_dialogue_whatever_the_row_order():
    table = pd.DataFrame(
        {
            "dialogue": ["a", "a", "a", "b", "b"],
            "turn_index": [0, 1, 2, 0, 1],
            "text": ["great, thanks!", "this is terrible", "ok", "I am furious", "wonderful news"],
        }
    )
    scores = lexicon_scores(table)
    compound = scores["lex_vader_compound"]
    following = scores["next_lex_vader_compound"]
    assert following[0] == compound[1] and following[1] == compound[2] and following[3] == compound[4]
    assert np.isnan(following[2]) and np.isnan(following[4])  # a dialogue's last talkturn has no next one
    shuffled = table.sample(frac=1.0, random_state=3)
    assert lexicon_scores(shuffled).loc[table.index].equals(scores)  # per talkturn, not per row position


def _text_only(table: pd.DataFrame) -> pd.DataFrame:
    """The synthetic IEMOCAP as a text-only corpus: its facial actions and voice tone gone."""
    audiovisual = [c for c in table.columns if c.startswith(("au", "tone_"))]
    return table.assign(**dict.fromkeys(audiovisual, np.nan))


def test_text_only_corpora_get_the_lexicon_families_by_default_and_others_keep_the_papers(tiny_iemocap_master):
    table = read_iemocap(tiny_iemocap_master)
    assert default_families(table) == PAPER_FAMILIES  # facial actions and voice tone: the paper's families
    text = _text_only(table)
    assert default_families(text) == (*PAPER_FAMILIES, "lexicon", "lexicon_next")
    usable, empty = available_families(text)
    assert usable == ["historical", "future", "lexicon", "lexicon_next"] and empty == ["actions", "prosody"]
    targets = build_auxiliary_targets(text, "emotion", AuxiliarySpec(tuple(usable)))
    lexical = [t for t, f in targets.family.items() if f.startswith("lexicon")]
    assert sorted(lexical) == sorted((*LEXICON_COLUMNS, *NEXT_COLUMNS))
    assert all(targets.kind[t] == "regression" for t in lexical)
    # percentile ranks against train, in the primary task's range (a classification: [0, 1])
    train = targets.table[targets.table["split"] == "train"]
    values = targets.table[lexical].to_numpy(dtype=float)
    assert np.nanmin(values) >= 0 and np.nanmax(values) <= 1
    assert train["lex_vader_compound"].mean() == pytest.approx(0.5, abs=0.02)
    # switchable like every family: on for a corpus with video and audio, off for a text-only one
    on = build_auxiliary_targets(table, "emotion", AuxiliarySpec(("actions", "lexicon")))
    assert set(on.family.values()) == {"actions", "lexicon"}
    off = build_auxiliary_targets(text, "emotion", AuxiliarySpec(("historical", "future")))
    assert set(off.family.values()) == {"historical", "future"}


def test_h1_on_text_compares_the_lexicons_alone_and_beside_the_labels():
    profile = load_profile("quick")
    text = conditions("h1", profile, ("historical", "future", "lexicon", "lexicon_next"))
    assert [(c.name, c.families) for c in text] == [
        ("none", ()),
        ("aphf", ("historical", "future", "lexicon", "lexicon_next")),
        ("hf", ("historical", "future")),
        ("lex", ("lexicon", "lexicon_next")),
    ]
    paper = conditions("h1", profile, PAPER_FAMILIES)
    assert [c.name for c in paper] == ["none", "ap", "aphf"]  # the paper's H1 as it was
    labels_only = conditions("h1", profile, ("historical", "future"))
    assert [c.name for c in labels_only] == ["none", "aphf"]  # lexicons switched off: as before
