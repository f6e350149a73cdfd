"""Nonverbal signals drawn from the latent state: OpenFace frames, Vokaturi tones, FeelTrace traces.

Each signal is its own noisy function of the state, with noise per talkturn and per frame, so that
it tells a model something about the state that the words do not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.signal import lfilter

from hanrock_core.reading.synthetic.ground_truth import Talkturn

FPS = 10.0
OPENFACE_COLUMNS = (
    "frame",
    "face_id",
    "timestamp",
    "confidence",
    "success",
    "pose_Tz",
    "y_30",
    "AU05_r",
    "AU17_r",
    "AU20_r",
    "AU25_r",
    "AU05_c",
    "AU06_c",
    "AU12_c",
    "AU17_c",
    "AU20_c",
    "AU25_c",
)
_FORMATS = ("%d", "%d", "%.3f", "%.2f", "%d", "%.1f", "%.1f") + ("%.2f",) * 4 + ("%d",) * 6


def au_means(state: np.ndarray) -> np.ndarray:
    """Expected AU05, AU17, AU20, AU25 intensity (0..5) for states of shape (..., 3)."""
    v, a = state[..., 0], state[..., 1]
    return np.stack(
        [
            0.6 + 1.3 * np.maximum(a, 0),  # upper lid raiser: arousal (surprise, anger, fear)
            0.4 + 1.4 * np.maximum(-v - 0.3 * a, 0),  # chin raiser: low, sad states
            0.3 + 1.6 * np.maximum(-v, 0) * np.maximum(a + 0.3, 0),  # lip stretcher: tense, negative
            0.9 + 0.8 * a,  # lips part: louder, livelier speech
        ],
        axis=-1,
    )


def tone_probabilities(rng: np.random.Generator, state: np.ndarray) -> np.ndarray:
    """Vokaturi-like probabilities (neutrality, happiness, sadness, anger, fear) for one state."""
    v, a, d = state
    logits = np.array(
        [
            0.6 - abs(v) - 0.5 * abs(a),
            1.5 * v + 0.4 * a,
            -1.2 * v - 1.0 * a - 0.2,
            -1.0 * v + 1.4 * a + 0.3 * d - 0.4,
            -0.6 * v + 0.7 * a - 0.8 * d - 0.6,
        ]
    )
    logits += rng.normal(0.0, 0.6, 5)
    p = np.exp(logits - logits.max())
    return p / p.sum()


def openface_frames(rng: np.random.Generator, turns: list[Talkturn], speaker: int, end_s: float) -> np.ndarray:
    """Per-frame rows (OPENFACE_COLUMNS) of one speaker's face over the whole dialogue."""
    ts = np.arange(0.0, end_s + 1.0, 1.0 / FPS)
    own = [t for t in turns if t.speaker == speaker]
    if own:
        starts = np.array([t.start_s for t in own])
        ends = np.array([t.end_s for t in own])
        states = np.array([t.state for t in own])
    else:  # a listener who never talks in this dialogue
        starts, ends, states = np.array([np.inf]), np.array([np.inf]), np.zeros((1, 3))
    # the speaker's current state: that of their latest talkturn started (calm before the first)
    k = np.searchsorted(starts, ts, side="right") - 1
    kk = np.maximum(k, 0)
    state = np.where(k[:, None] >= 0, states[kk], 0.0)
    speaking = (k >= 0) & (ts <= ends[kk])
    turn_offset = rng.normal(0.0, 0.35, (len(states) + 1, 4))[k + 1]
    means = au_means(state) * np.where(speaking, 1.0, 0.6)[:, None] + turn_offset
    au_r = np.clip(means + rng.normal(0.0, 0.25, means.shape), 0.0, 5.0)
    au_c = (au_r + rng.normal(0.0, 0.2, au_r.shape) > 1.3).astype(int)
    # a smile is decided per talkturn and held until the speaker talks again
    p_smile = 1.0 / (1.0 + np.exp(-(3.0 * states[:, 0] - 1.5)))
    turn_smiles = np.r_[False, rng.random(len(states)) < p_smile][k + 1]
    au06 = (turn_smiles & (rng.random(len(ts)) < 0.9)).astype(int)
    au12 = ((turn_smiles & (rng.random(len(ts)) < 0.98)) | (rng.random(len(ts)) < 0.03)).astype(int)
    success = (rng.random(len(ts)) > 0.03).astype(int)
    confidence = np.where(success == 1, np.clip(rng.normal(0.93, 0.05, len(ts)), 0.3, 0.99), 0.0)
    confidence[rng.random(len(ts)) < 0.02] = 0.4  # blurred frames: kept in the file, ignored by the reader
    nod = speaking & (state[:, 0] > 0.3)
    y30 = 240.0 + rng.normal(0.0, 0.7, len(ts)) + np.where(nod, 6.0 * np.sin(2 * np.pi * 2.0 * ts), 0.0)
    lean = np.where(speaking, -45.0 * np.maximum(state[:, 2], 0) * _progress(ts, starts, ends, k), 0.0)
    pose_tz = 620.0 + rng.normal(0.0, 2.0, len(ts)) + lean
    au_r[success == 0] = 0.0
    au_c[success == 0] = 0
    return np.column_stack(
        [
            np.arange(1, len(ts) + 1),
            np.zeros(len(ts)),
            ts,
            confidence,
            success,
            pose_tz,
            y30,
            au_r,
            au_c[:, 0],
            au06,
            au12,
            au_c[:, 1],
            au_c[:, 2],
            au_c[:, 3],
        ]
    )


def _progress(ts: np.ndarray, starts: np.ndarray, ends: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Fraction 0..1 of the current talkturn elapsed at each frame (0 outside talkturns)."""
    if not np.isfinite(starts).all():
        return np.zeros_like(ts)
    kk = np.maximum(k, 0)
    span = np.maximum(ends[kk] - starts[kk], 1e-6)
    return np.clip((ts - starts[kk]) / span, 0.0, 1.0) * (k >= 0)


def write_openface_csv(path: Path, rows: np.ndarray) -> None:
    """Write frames as OpenFace 2.x does: `, `-separated, headers with a leading space."""
    header = ", ".join(OPENFACE_COLUMNS)
    np.savetxt(path, rows, fmt=", ".join(_FORMATS), header=header, comments="")


def trace_samples(rng: np.random.Generator, times: np.ndarray, values: np.ndarray, end_s: float) -> np.ndarray:
    """A rater's FeelTrace: the target value held from each talkturn, lagged, biased and noisy, at 5 Hz."""
    ts = np.arange(0.0, end_s + 1.0, 0.2)
    k = np.searchsorted(times, ts - 0.4, side="right") - 1
    target = np.where(k >= 0, values[np.maximum(k, 0)], 0.0)
    # a rater's hand moves smoothly towards the target: level += 0.35 * (target - level)
    smooth, _ = lfilter([0.35], [1.0, -0.65], target, zi=[0.65 * target[0]])
    bias = rng.normal(0.0, 0.08)
    out = np.clip(smooth + bias + rng.normal(0.0, 0.05, len(ts)), -1.0, 1.0)
    return np.column_stack([ts, out])
