"""Short conversational talkturns whose emotional words follow the latent state, noisily.

A talkturn is one or two sentences built from templates.  Each emotional slot takes a word of
the emotion that a noisy reading of the latent state suggests (so words are informative but can
mislead), or a neutral word when the state is weak.  The vocabulary has a few hundred words.
"""

from __future__ import annotations

import numpy as np

EMOTIONS = ("angry", "happy", "neutral", "sad")

OPENERS = [
    "oh",
    "well",
    "yeah",
    "no",
    "look",
    "okay",
    "hey",
    "listen",
    "so",
    "alright",
    "right",
    "um",
    "i mean",
    "you know",
    "come on",
    "honestly",
    "wait",
    "sure",
]
SUBJECTS = ["i", "you", "we", "they", "he", "she"]
VERBS = [
    "visit",
    "take",
    "see",
    "want",
    "need",
    "know",
    "tell",
    "get",
    "call",
    "wait for",
    "leave",
    "find",
    "give",
    "keep",
    "make",
    "talk about",
    "work on",
    "bring",
    "try",
    "check",
    "remember",
    "pay for",
    "fix",
    "ask about",
    "pick up",
    "clean",
    "sign",
    "read",
    "look at",
    "move",
    "sell",
    "finish",
]
OBJECTS = [
    "the car",
    "the money",
    "this place",
    "your mother",
    "the job",
    "the airport",
    "the form",
    "the line",
    "dinner",
    "the kids",
    "the house",
    "the wedding",
    "the ticket",
    "my brother",
    "the letter",
    "the office",
    "the beach",
    "that guy",
    "the phone",
    "the weekend",
    "the baggage",
    "the manager",
    "the flight",
    "the papers",
    "my sister",
    "the party",
    "the rent",
    "the boat",
    "the ring",
    "the bill",
    "the doctor",
    "the dog",
    "the plan",
    "the window",
    "the agency",
    "the paperwork",
    "your father",
    "the radio",
    "the hotel",
    "the army",
    "the garden",
    "the coffee",
    "the movie",
    "my friend",
]
TIMES = [
    "today",
    "tomorrow",
    "tonight",
    "now",
    "again",
    "yesterday",
    "this morning",
    "last night",
    "next week",
    "right now",
    "all day",
    "every time",
    "before",
    "later",
    "soon",
]
FILLERS = [
    "i guess",
    "i think",
    "maybe",
    "probably",
    "actually",
    "honestly",
    "really",
    "anyway",
    "you see",
    "i suppose",
    "apparently",
    "obviously",
]

ADJECTIVES = {
    "angry": [
        "ridiculous",
        "stupid",
        "unbelievable",
        "furious",
        "outrageous",
        "sick of this",
        "unfair",
        "pathetic",
        "insane",
        "fed up",
        "disgusting",
        "useless",
        "annoyed",
        "mad",
    ],
    "happy": [
        "great",
        "wonderful",
        "amazing",
        "fantastic",
        "excited",
        "beautiful",
        "perfect",
        "lovely",
        "thrilled",
        "awesome",
        "brilliant",
        "lucky",
        "glad",
        "happy",
    ],
    "neutral": [
        "fine",
        "okay",
        "normal",
        "busy",
        "ready",
        "early",
        "late",
        "open",
        "closed",
        "simple",
        "different",
        "usual",
        "available",
        "the same",
    ],
    "sad": [
        "sorry",
        "lonely",
        "tired",
        "lost",
        "miserable",
        "heartbroken",
        "hopeless",
        "empty",
        "awful",
        "sad",
        "upset",
        "scared",
        "hurt",
        "gone",
    ],
}
EMOTION_VERBS = {
    "angry": ["hate", "can't stand", "am done with", "won't accept", "refuse", "blame you for"],
    "happy": ["love", "adore", "can't wait for", "really enjoy", "am so proud of", "celebrate"],
    "neutral": ["need", "have", "see", "mean", "understand", "checked"],
    "sad": ["miss", "lost", "can't face", "regret", "cried about", "am afraid of"],
}
INTERJECTIONS = {
    "angry": ["damn it", "shut up", "give me a break", "are you kidding me", "enough", "get out"],
    "happy": ["wow", "yes", "oh my god", "that's so sweet", "ha ha", "congratulations"],
    "neutral": ["okay", "uh huh", "i see", "right", "sure", "hmm"],
    "sad": ["oh no", "i'm sorry", "please", "i don't know", "it's over", "why"],
}


def _pick(rng: np.random.Generator, words: list[str]) -> str:
    return words[int(rng.integers(len(words)))]


def _emotion_for_slot(rng: np.random.Generator, scores: np.ndarray, strength: float) -> str:
    """The emotion a slot expresses: a noisy reading of the state, neutral when the state is weak."""
    if rng.random() > strength:
        return "neutral"
    noisy = scores + rng.normal(0.0, 0.9, size=len(scores))
    return EMOTIONS[int(np.argmax(noisy))]


def _sentence(rng: np.random.Generator, scores: np.ndarray, strength: float) -> str:
    emo = lambda: _emotion_for_slot(rng, scores, strength)  # noqa: E731 - a fresh draw per slot
    kind = int(rng.integers(7))
    if kind == 0:
        s = f"{_pick(rng, SUBJECTS)} {_pick(rng, EMOTION_VERBS[emo()])} {_pick(rng, OBJECTS)}"
    elif kind == 1:
        s = f"{_pick(rng, OBJECTS)} is {_pick(rng, ADJECTIVES[emo()])}"
    elif kind == 2:
        subject = _pick(rng, SUBJECTS)
        have = "has" if subject in ("he", "she") else "have"
        s = f"{subject} {have} to {_pick(rng, VERBS)} {_pick(rng, OBJECTS)} {_pick(rng, TIMES)}"
    elif kind == 3:
        s = f"{_pick(rng, INTERJECTIONS[emo()])}"
    elif kind == 4:
        s = f"why did {_pick(rng, SUBJECTS)} {_pick(rng, VERBS)} {_pick(rng, OBJECTS)}"
    elif kind == 5:
        s = f"{_pick(rng, FILLERS)} it's {_pick(rng, ADJECTIVES[emo()])} {_pick(rng, TIMES)}"
    else:
        s = f"{_pick(rng, FILLERS)} i {_pick(rng, EMOTION_VERBS[emo()])} {_pick(rng, OBJECTS)}"
    if rng.random() < 0.35:
        s = f"{_pick(rng, OPENERS)}, {s}"
    return s


def talkturn_text(rng: np.random.Generator, scores: np.ndarray, strength: float) -> str:
    """One talkturn of one or two sentences with punctuation, e.g. "Oh, the rent is awful."."""
    n = 1 if rng.random() < 0.6 else 2
    sentences = []
    for _ in range(n):
        s = _sentence(rng, scores, strength)
        end = "?" if s.startswith("why") else ("!" if rng.random() < 0.15 * (1 + strength) else ".")
        sentences.append(s[0].upper() + s[1:] + end)
    return " ".join(sentences)


def words_of(text: str) -> list[str]:
    """Lower-case words without punctuation, as a word-level transcript writes them."""
    cleaned = "".join(ch if ch.isalnum() or ch in " '" else " " for ch in text.lower())
    return cleaned.split()
