"""MONAH narratives: the verbatim talkturn woven with words for how it was said and done.

    [The SPK ACTIONS.] [After N hundred milliseconds DELAY-PHRASE] the SPK [TONE] [and] [SPEED] said TEXT.

e.g. "The woman raised chin. The woman sadly and slowly said no."  Prosody numbers are z-scored
per speaker; rules and thresholds follow the MONAH framework (docs/narratives.md).  Missing
features add no words.  `normalise` turns a narrative into the model's input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hanrock_core.base.errors import InputError

NARRATIVE_FAMILIES = ("v", "vp", "va", "vpa")
TONE_WORDS = (("tone_sadness", "sadly"), ("tone_anger", "angrily"), ("tone_happiness", "happily"))  # priority order
ACTION_WORDS = (
    ("smile", "smiled"),
    ("positive_expression", "displayed a positive expression"),
    ("au05_c", "raised upper lid"),
    ("au17_c", "raised chin"),
    ("au20_c", "stretched lip"),
    ("au25_c", "dropped jaw"),
    ("head_nod", "nodded"),
    ("lean_forward", "leaned forward"),
)
PROSODY_COLUMNS = ("tone_sadness", "tone_anger", "tone_happiness", "words_per_minute", "delay_s")
NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
)
MIN_DELAY_MS = 200
ARTICLES = {"the", "a", "an"}


@dataclass(frozen=True)
class NarrativeRecipe:
    """How a dataset's talkturns become model inputs: the narrative family and the punctuation kept as
    tokens (the paper: vpa, none).  Set per dataset in hanrock.yaml (`narratives:`); a run may override it."""

    family: str = "vpa"
    keep_punctuation: str = ""

    def __post_init__(self):
        if self.family not in NARRATIVE_FAMILIES:
            raise InputError(f"unknown narrative family {self.family!r}; choose one of {NARRATIVE_FAMILIES}")


def recipe_of(narratives: pd.DataFrame) -> NarrativeRecipe:
    """The recipe a stored narrative table was built with (its `narrative_family`, `keep_punctuation` columns)."""
    if "narrative_family" not in narratives.columns:
        raise InputError(
            "the stored narratives predate the columns that say how they were built (narrative_family, "
            "keep_punctuation)",
            hint="materialise monah_narratives again",
        )
    if not len(narratives):
        return NarrativeRecipe()
    return NarrativeRecipe(str(narratives["narrative_family"].iloc[0]), str(narratives["keep_punctuation"].iloc[0]))


NORMED = ("tone_sadness", "tone_anger", "tone_happiness", "words_per_minute", "delay")  # z-scored per speaker


def _mean_sd(values: pd.Series) -> tuple[float, float]:
    """Mean and population sd of the present values (NaN, NaN when none)."""
    present = values.dropna().astype(float)
    return (float(present.mean()), float(present.std(ddof=0))) if len(present) else (float("nan"), float("nan"))


@dataclass(frozen=True)
class SpeakerNorms:
    """Each speaker's mean and sd of the prosody numbers (NORMED) that the tone, speed and delay words are
    relative to, and the pooled mean and sd of every talkturn, the stated fallback for a speaker never seen.

    A study measures them on its whole talkturn table; its kept models carry them (the card's
    `inputs.speaker_norms`), so that the same talkturns get the same words however they are handed over."""

    speakers: dict[str, dict[str, tuple[float, float]]]
    pooled: dict[str, tuple[float, float]]

    @classmethod
    def measure(cls, table: pd.DataFrame) -> SpeakerNorms:
        """The norms of a talkturn table with the prosody columns."""
        values = _normed_values(table)
        speakers = table["speaker"].astype(str).to_numpy()
        per_speaker: dict[str, dict[str, tuple[float, float]]] = {}
        for column, series in values.items():
            grouped = series.astype(float).groupby(speakers, sort=True)
            mean, sd = grouped.mean(), grouped.std(ddof=0)
            for speaker in mean.index:
                per_speaker.setdefault(str(speaker), {})[column] = (float(mean[speaker]), float(sd[speaker]))
        return cls(per_speaker, {column: _mean_sd(series) for column, series in values.items()})

    def zscores(self, column: str, values: pd.Series, speakers: pd.Series) -> pd.Series:
        """z of each value against its speaker's norm (the pooled one for an unseen speaker); 0 where the
        value is missing or the norm's sd is 0."""
        pooled = self.pooled[column]
        norms = [self.speakers.get(s, {}).get(column, pooled) for s in speakers.astype(str)]
        mean = pd.Series([m for m, _ in norms], index=values.index, dtype=float)
        sd = pd.Series([d for _, d in norms], index=values.index, dtype=float)
        z = (values.astype(float) - mean) / sd.where(sd > 0)
        return z.fillna(0.0)

    def unseen(self, speakers: pd.Series) -> list[str]:
        """The speakers of `speakers` these norms were not measured on, in order of appearance."""
        return [s for s in dict.fromkeys(speakers.astype(str)) if s not in self.speakers]

    def to_card(self) -> dict:
        """As JSON for a kept model's card (floats round-trip exactly)."""
        return {
            "columns": list(NORMED),
            "speakers": {s: {c: list(v) for c, v in norms.items()} for s, norms in self.speakers.items()},
            "pooled": {c: list(v) for c, v in self.pooled.items()},
        }

    @classmethod
    def from_card(cls, card: dict) -> SpeakerNorms:
        """The norms a card recorded (`to_card`)."""
        speakers = {s: {c: (float(v[0]), float(v[1])) for c, v in n.items()} for s, n in card["speakers"].items()}
        return cls(speakers, {c: (float(v[0]), float(v[1])) for c, v in card["pooled"].items()})


def _normed_values(table: pd.DataFrame) -> dict[str, pd.Series]:
    """Column of NORMED -> its values per talkturn (`delay`: the pause before the talkturn)."""
    values = {c: table[c] for c in NORMED[:-1]}
    values["delay"] = response_delay(table)
    return values


def response_delay(table: pd.DataFrame) -> pd.Series:
    """The pause before each talkturn when it answers another speaker (seconds; else missing).

    `delay_s` of a talkturn is the gap to the other speaker's next talkturn, so the pause before
    talkturn i is the `delay_s` of talkturn i-1 when i-1 was said by someone else.
    """
    prev_delay = table.groupby("dialogue", sort=False)["delay_s"].shift(1)
    prev_speaker = table.groupby("dialogue", sort=False)["speaker"].shift(1)
    return prev_delay.where(prev_speaker.notna() & (prev_speaker != table["speaker"]))


def tone_word(z: dict[str, float]) -> str | None:
    """ "sadly" / "angrily" / "happily" when that tone's z > 2; sad wins over angry over happy."""
    for column, word in TONE_WORDS:
        if z.get(column, 0.0) > 2:
            return word
    return None


def speed_word(z: float) -> str | None:
    """Speaking rate relative to the speaker's own habit."""
    if z < -2:
        return "very slowly"
    if z < -1:
        return "slowly"
    if z >= 2:
        return "very quickly"
    if z >= 1:
        return "quickly"
    return None


def delay_phrase(delay_s: float, z: float) -> str | None:
    """ "after N hundred milliseconds DELAY" for pauses of at least 200 ms (N rounded down)."""
    if delay_s is None or np.isnan(delay_s) or delay_s * 1000 < MIN_DELAY_MS:
        return None
    hundreds = int(np.floor(delay_s * 1000 / 100 + 1e-9))
    count = "more than twelve" if delay_s * 1000 > 1200 else NUMBER_WORDS[hundreds]
    phrase = f"after {count} hundred milliseconds"
    if -1 <= z < 0:
        phrase += " a short delay"
    elif 0 <= z < 1:
        phrase += " a slightly long delay"
    elif 1 <= z < 2:
        phrase += " a long delay"
    elif z >= 2:
        phrase += " a significantly long delay"
    return phrase


def _join_actions(actions: list[str]) -> str:
    return actions[0] if len(actions) == 1 else ", ".join(actions[:-1]) + " and " + actions[-1]


def _capitalise(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def compose(noun: str, text: str, actions: list[str], tone: str | None, speed: str | None, delay: str | None) -> str:
    """One narrative from its parts (the template above)."""
    sentences = []
    if actions:
        sentences.append(_capitalise(f"the {noun} {_join_actions(actions)}."))
    manner = " and ".join(w for w in (tone, speed) if w)
    said = f"the {noun} {manner + ' ' if manner else ''}said {text.strip()}"
    if delay:
        said = f"{delay} {said}"
    if not re.search(r"[.!?]$", said):
        said += "."
    sentences.append(_capitalise(said))
    return " ".join(sentences)


def build_narratives(table: pd.DataFrame, family: str = "vpa", norms: SpeakerNorms | None = None) -> pd.Series:
    """The MONAH narrative of every talkturn (index aligned with `table`); prosody words are relative to
    `norms` (default: the norms of `table` itself, as a study measures them)."""
    if family not in NARRATIVE_FAMILIES:
        raise InputError(f"unknown narrative family {family!r}; choose one of {NARRATIVE_FAMILIES}")
    prosody, actions = "p" in family, "a" in family
    needed = (PROSODY_COLUMNS if prosody else ()) + (tuple(c for c, _ in ACTION_WORDS) if actions else ())
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InputError(
            f"narrative family {family!r} needs columns {missing}", hint="switch the family to 'v' or add the features"
        )
    z: dict[str, np.ndarray] = {}
    delay = response_delay(table) if prosody else pd.Series(np.nan, index=table.index)
    if prosody:
        norms = norms or SpeakerNorms.measure(table)
        for column in ("tone_sadness", "tone_anger", "tone_happiness", "words_per_minute"):
            # NaN where the feature is missing, so that it adds no word
            z[column] = (
                norms.zscores(column, table[column], table["speaker"]).where(table[column].notna()).to_numpy(float)
            )
        z["delay"] = norms.zscores("delay", delay, table["speaker"]).to_numpy(dtype=float)
    flags = {c: table[c].fillna(False).astype(bool).to_numpy() for c, _ in ACTION_WORDS} if actions else {}
    delay_values = delay.to_numpy(dtype=float)
    out = []
    for i, (noun, text) in enumerate(zip(table["speaker_noun"], table["text"])):
        words_actions = [w for c, w in ACTION_WORDS if flags[c][i]] if actions else []
        tone = speed = pause = None
        if prosody:
            tone = tone_word({c: z[c][i] for c, _ in TONE_WORDS if not np.isnan(z[c][i])})
            speed = None if np.isnan(z["words_per_minute"][i]) else speed_word(z["words_per_minute"][i])
            pause = delay_phrase(delay_values[i], z["delay"][i])
        out.append(compose(noun, text, words_actions, tone, speed, pause))
    return pd.Series(out, index=table.index, dtype="string", name="narrative")


def norms_for(table: pd.DataFrame, family: str) -> SpeakerNorms | None:
    """The speaker norms a study's narratives of `family` are relative to (None: the family has no prosody)."""
    return SpeakerNorms.measure(table) if "p" in family else None


_PUNCT = re.compile(r"[^\w\s]")


def normalise(narrative: str, keep: str = "") -> str:
    """Model input: lowercase, apostrophes dropped, other punctuation and the articles removed.

    `keep` (e.g. "?!"; the paper: none) names punctuation kept as tokens of their own: "really?!" ->
    "really ? !" -- a departure from the paper's rule, offered as an option.
    """
    text = narrative.lower().replace("'", "").replace("\u2019", "")
    placeholders = {f"keptmark{ord(mark)}keptmark": mark for mark in keep}  # word characters survive _PUNCT
    for word, mark in placeholders.items():
        text = text.replace(mark, f" {word} ")
    words = [placeholders.get(w, w) for w in _PUNCT.sub(" ", text).split()]
    return " ".join(w for w in words if w not in ARTICLES)


NONVERBAL_PHRASES = (
    tuple(w for _, w in ACTION_WORDS)
    + tuple(w for _, w in TONE_WORDS)
    + (
        "very slowly",
        "slowly",
        "quickly",
        "very quickly",
        "a short delay",
        "a slightly long delay",
        "a long delay",
        "a significantly long delay",
    )
)


def narratives_and_inputs(
    table: pd.DataFrame, recipe: NarrativeRecipe, norms: SpeakerNorms | None = None
) -> tuple[pd.Series, pd.Series]:
    """(MONAH narratives, normalised model inputs) of the talkturns by `recipe`: the one path from talkturns to
    what a model reads, for a study's table and for `hanrock predict` alike (`norms`: the study's speaker norms;
    None: measured on `table`)."""
    narratives = build_narratives(table, recipe.family, norms)
    return narratives, narratives.map(lambda n: normalise(n, recipe.keep_punctuation)).astype(str)


def narrative_table(table: pd.DataFrame, recipe: NarrativeRecipe = NarrativeRecipe()) -> pd.DataFrame:
    """Per talkturn: ids, the verbatim text, the MONAH narrative and the normalised model input.

    The recipe's family and kept punctuation are columns too, so a model trained on these inputs
    can record how to build its inputs from new talkturns (kept_model.py, `recipe_of`)."""
    family, keep_punctuation = recipe.family, recipe.keep_punctuation
    narratives, inputs = narratives_and_inputs(table, recipe)
    return pd.DataFrame(
        {
            "utterance_id": table["utterance_id"].to_numpy(),
            "dialogue": table["dialogue"].to_numpy(),
            "turn_index": table["turn_index"].to_numpy(),
            "speaker": table["speaker"].to_numpy(),
            "split": table["split"].to_numpy(),
            "verbatim": table["text"].to_numpy(),
            "narrative": narratives.to_numpy(),
            "model_input": inputs.to_numpy(),
            "narrative_family": pd.array([family] * len(table), dtype="string"),
            "keep_punctuation": pd.array([keep_punctuation] * len(table), dtype="string"),
        }
    )


def phrase_counts(narratives: pd.Series) -> pd.DataFrame:
    """How many talkturns carry each nonverbal phrase (what the narratives add to the words).

    Counted on the narratives with the verbatim text cut off, so spoken words never count.
    """
    lowered = narratives.str.lower().str.rsplit(" said ", n=1).str[0]
    rows = []
    for phrase in NONVERBAL_PHRASES:
        pattern = (
            rf"(?<![a-z ]very ){re.escape(phrase)}\b"
            if phrase in ("slowly", "quickly")
            else rf"\b{re.escape(phrase)}\b"
        )
        rows.append({"phrase": phrase, "talkturns": int(lowered.str.contains(pattern, regex=True).sum())})
    out = pd.DataFrame(rows)
    out["share"] = (out["talkturns"] / max(len(narratives), 1)).round(4)
    return out.sort_values("talkturns", ascending=False, kind="stable").reset_index(drop=True)
