"""The planted ground truth: a latent emotional state per speaker that evolves over a dialogue.

State x = (valence, arousal, dominance), roughly in [-1.5, 1.5].  Each dialogue has a scenario
mood (argument, bad news, celebration, small talk) and each speaker a trait offset.  At every
talkturn the speaker's state moves towards mood + trait, is pulled towards the other speaker's
last state (contagion) and gets a random shock:

    x_t = rho * x_prev + (1 - rho) * (mood + trait) + kappa * (x_other - x_prev) + N(0, sigma^2)

Everything observable (words, action units, tone, speaking rate, delays, and the raters' labels)
is a separate noisy function of x, so nonverbal signals and neighbouring labels carry information
that the words alone do not.  docs/synthetic-corpus.md gives the exact functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hanrock_core.reading.synthetic.language import EMOTIONS, talkturn_text

RHO, KAPPA, SIGMA = 0.75, 0.15, 0.30
SCENARIOS = {
    "argument": (-0.8, 0.9, 0.4),
    "bad_news": (-0.9, -0.6, -0.4),
    "celebration": (0.9, 0.6, 0.3),
    "small_talk": (0.1, -0.2, 0.0),
}


def emotion_scores(state: np.ndarray) -> np.ndarray:
    """How much each 4-class emotion (angry, happy, neutral, sad) fits the state; rows = talkturns."""
    v, a = state[..., 0], state[..., 1]
    return np.stack([-v + a - 0.3, 1.2 * v + 0.2 * a, 0.7 - np.abs(v) - 0.6 * np.abs(a), -v - a - 0.3], axis=-1)


@dataclass
class Talkturn:
    """One simulated talkturn before it is written in a corpus layout."""

    speaker: int  # 0 or 1 within the dialogue
    state: np.ndarray  # (3,) valence, arousal, dominance
    text: str
    start_s: float
    end_s: float


def simulate_dialogue(
    rng: np.random.Generator, n_turns: int, scenario: str | None = None
) -> tuple[str, list[Talkturn]]:
    """Simulate the states, words and timing of one dialogue of two speakers."""
    scenario = scenario or list(SCENARIOS)[int(rng.integers(len(SCENARIOS)))]
    mood = np.array(SCENARIOS[scenario]) + rng.normal(0.0, 0.25, 3)
    traits = rng.normal(0.0, 0.3, (2, 3))
    states = [mood + traits[0] + rng.normal(0, 0.3, 3), mood + traits[1] + rng.normal(0, 0.3, 3)]
    turns: list[Talkturn] = []
    speaker, clock = int(rng.integers(2)), 1.0 + float(rng.random())
    for i in range(n_turns):
        if i > 0 and rng.random() < 0.8:
            speaker = 1 - speaker
        other = states[1 - speaker]
        prev = states[speaker]
        x = RHO * prev + (1 - RHO) * (mood + traits[speaker]) + KAPPA * (other - prev) + rng.normal(0.0, SIGMA, 3)
        x = np.clip(x, -1.5, 1.5)
        states[speaker] = x
        strength = float(np.clip(0.25 + 0.45 * np.hypot(x[0], x[1]), 0.0, 0.9))
        text = talkturn_text(rng, emotion_scores(x), strength)
        n_words = len(text.split())
        wpm = float(np.clip(165.0 + 40.0 * x[1] + rng.normal(0.0, 15.0), 70.0, 280.0))
        duration = max(0.5, n_words * 60.0 / wpm)
        start = clock
        end = start + duration
        turns.append(Talkturn(speaker, x, text, round(start, 3), round(end, 3)))
        gap = 0.15 + 0.5 * max(-x[1], 0.0) + float(rng.exponential(0.35))
        clock = end + gap
    return scenario, turns


def assign_with_quotas(scores: np.ndarray, quotas: np.ndarray) -> np.ndarray:
    """Give each row one column so that column j is used exactly quotas[j] times.

    Greedy on descending score: the most confident (row, column) pairs are taken first, so labels
    follow the scores while the class counts match the target counts exactly.
    """
    n, k = scores.shape
    assert quotas.sum() == n, "quotas must add up to the number of rows"
    order = np.argsort(-scores, axis=None, kind="stable")
    out = np.full(n, -1)
    left = quotas.copy()
    for flat in order:
        row, col = divmod(int(flat), k)
        if out[row] == -1 and left[col] > 0:
            out[row] = col
            left[col] -= 1
    return out


def scaled_counts(counts: dict[str, int], total: int) -> dict[str, int]:
    """Counts proportional to `counts` that add up to `total` (largest remainder)."""
    names = list(counts)
    raw = np.array([counts[n] for n in names], dtype=float)
    exact = raw * total / raw.sum()
    out = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - out), kind="stable")[: total - out.sum()]:
        out[i] += 1
    return dict(zip(names, out.tolist()))


def split_evenly(rng: np.random.Generator, total: int, parts: int) -> list[int]:
    """`parts` positive sizes adding up to `total`, varying by about +-20%."""
    weights = rng.uniform(0.8, 1.2, parts)
    sizes = np.maximum(1, np.floor(weights / weights.sum() * total)).astype(int)
    sizes[-1] += total - sizes.sum()
    while sizes[-1] < 1:
        i = int(np.argmax(sizes))
        sizes[i] -= 1
        sizes[-1] += 1
    return sizes.tolist()


__all__ = [
    "EMOTIONS",
    "SCENARIOS",
    "Talkturn",
    "assign_with_quotas",
    "emotion_scores",
    "scaled_counts",
    "simulate_dialogue",
    "split_evenly",
]
