"""Text preprocessing outputs: lexicon scores of each talkturn's words, reused as auxiliary supervisors.

What OpenFace and Vokaturi are to video and audio, sentiment and emotion lexicons are to a transcript:
preprocessing that maintained packages compute without training.  Three, all with licences that allow
research use (docs/auxiliary-targets.md, "Text lexicons"):

- VADER (`vaderSentiment`, MIT): negative, neutral, positive and compound sentiment of the talkturn.
- TextBlob's pattern analyser (`textblob`, MIT; its lexicon from Pattern, BSD): polarity and subjectivity.
- The NRC Emotion Lexicon (EmoLex, shipped in `nrclex`, whose code is MIT; the lexicon itself is free for
  research and education, commercial use needs a licence from the National Research Council Canada): the
  share of the talkturn's words associated with each of eight emotions.

Each score is a column of the talkturn table (`lex_*`); auxiliary_target.py turns them, like every
reused preprocessing output, into percentile ranks against the train split.  The `lexicon` family is the
talkturn's own scores; `lexicon_next` is the next talkturn's in the dialogue, which the model's input
(the talkturn and those before it) does not contain, as the paper's future labels are not.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources

import numpy as np
import pandas as pd

VADER = ("neg", "neu", "pos", "compound")
PATTERN = ("polarity", "subjectivity")
NRC_EMOTIONS = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust")
LEXICON_COLUMNS = (
    *(f"lex_vader_{k}" for k in VADER),
    *(f"lex_{k}" for k in PATTERN),
    *(f"lex_nrc_{e}" for e in NRC_EMOTIONS),
)
NEXT_PREFIX = "next_"  # lexicon_next's columns: the next talkturn's scores, e.g. next_lex_vader_compound
NEXT_COLUMNS = tuple(NEXT_PREFIX + c for c in LEXICON_COLUMNS)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


@functools.cache
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@functools.cache
def _pattern():
    from textblob.en.sentiments import PatternAnalyzer

    return PatternAnalyzer()


@functools.cache
def _nrc() -> dict[str, frozenset[str]]:
    """Word -> the NRC emotions it is associated with (the lexicon file `nrclex` ships)."""
    raw = json.loads((resources.files("nrclex") / "data" / "nrc_en.json").read_text(encoding="utf-8"))
    return {word: frozenset(emotions) & set(NRC_EMOTIONS) for word, emotions in raw.items()}


def talkturn_scores(text: str) -> list[float]:
    """The LEXICON_COLUMNS scores of one talkturn's text (an empty text scores VADER neutral, the rest 0)."""
    vader = _vader().polarity_scores(text)
    pattern = _pattern().analyze(text)
    words = _WORD.findall(text.lower())
    nrc = _nrc()
    counts = dict.fromkeys(NRC_EMOTIONS, 0)
    for word in words:
        for emotion in nrc.get(word, ()):
            counts[emotion] += 1
    share = [counts[e] / len(words) if words else 0.0 for e in NRC_EMOTIONS]
    return [float(vader[k]) for k in VADER] + [float(pattern.polarity), float(pattern.subjectivity)] + share


def lexicon_scores(table: pd.DataFrame) -> pd.DataFrame:
    """LEXICON_COLUMNS and NEXT_COLUMNS for every talkturn of a talkturn table (index as the table's).
    The next talkturn is the following `turn_index` of the same dialogue; the last talkturn has none
    (missing, so it adds no loss)."""
    texts = table["text"].fillna("").astype(str)
    unique = {t: talkturn_scores(t) for t in dict.fromkeys(texts)}  # repeated lines ("yeah.") scored once
    own = pd.DataFrame([unique[t] for t in texts], columns=list(LEXICON_COLUMNS), index=table.index)
    order = table.sort_values(["dialogue", "turn_index"], kind="stable").index
    following = own.loc[order].shift(-1)
    last = table.loc[order, "dialogue"].to_numpy() != np.r_[table.loc[order, "dialogue"].to_numpy()[1:], None]
    following.loc[last] = np.nan
    following.columns = list(NEXT_COLUMNS)
    return own.join(following.loc[table.index])


__all__ = ["LEXICON_COLUMNS", "NEXT_COLUMNS", "lexicon_scores", "talkturn_scores"]
