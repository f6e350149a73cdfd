"""Write a synthetic corpus in the SEMAINE layout (plus OpenFace and Vokaturi outputs)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pandas as pd

from hanrock_core.reading.corpora.semaine import CHARACTERS, DIMENSIONS
from hanrock_core.reading.paper_tables import SEMAINE_SESSIONS
from hanrock_core.reading.synthetic.ground_truth import Talkturn, simulate_dialogue, split_evenly
from hanrock_core.reading.synthetic.language import words_of
from hanrock_core.reading.synthetic.signals import (
    openface_frames,
    tone_probabilities,
    trace_samples,
    write_openface_csv,
)

MIN_TURNS_PER_SESSION = 6
TURNS_PER_CHARACTER = 25  # below this a recording gets fewer character conversations
ROLES = ("user", "operator")  # speaker slot 0 is the user, slot 1 the operator
RATERS = (1, 2)
# each operator character pulls the conversation towards a mood, as in SEMAINE's design
CHARACTER_SCENARIO = {"Po": "celebration", "Sp": "argument", "Ob": "bad_news", "Pr": "small_talk"}


def trace_value(dim: str, state: np.ndarray) -> np.ndarray:
    """The rated value in [-1, 1] of FeelTrace dimension `dim` for states of shape (n, 3)."""
    v, a, d = state[:, 0], state[:, 1], state[:, 2]
    if dim == "A":
        return np.tanh(0.9 * a) * 0.85
    if dim == "V":
        return np.tanh(0.9 * v) * 0.85
    if dim == "P":
        return np.tanh(0.9 * d) * 0.85
    return np.clip(np.tanh(np.hypot(v, a)) * 1.4 - 0.6, -1.0, 1.0)  # intensity


def simulate(scale: float, seed: int) -> list[tuple[str, int, str, str, list[Talkturn]]]:
    """(recording, folder number, character code, scenario, talkturns) per conversation."""
    out = []
    folder = 0
    for r_idx, (recording, (_, count)) in enumerate(SEMAINE_SESSIONS.items()):
        total = max(MIN_TURNS_PER_SESSION, round(count * scale))
        plan_rng = np.random.default_rng([seed, 3, r_idx])
        n_chars = min(4, max(1, total // TURNS_PER_CHARACTER))
        chars = [list(CHARACTERS)[(r_idx + j) % 4] for j in range(n_chars)]
        for c_idx, (char, size) in enumerate(zip(chars, split_evenly(plan_rng, total, n_chars))):
            folder += 1
            rng = np.random.default_rng([seed, 3, r_idx, c_idx])
            scenario, turns = simulate_dialogue(rng, size, CHARACTER_SCENARIO[char])
            out.append((recording, folder, char, scenario, turns))
    return out


def write(root: Path, scale: float, seed: int) -> pd.DataFrame:
    """Write the corpus under `root`; return the ground truth (one row per talkturn)."""
    conversations = simulate(scale, seed)
    pre = root / "preprocessing"
    (pre / "openface").mkdir(parents=True)
    truth_rows, voc_rows = [], []
    recordings = list(SEMAINE_SESSIONS)
    for d_idx, (recording, folder, char, scenario, turns) in enumerate(conversations):
        rng = np.random.default_rng([seed, 4, d_idx])
        sdir = root / "Sessions" / str(folder)
        sdir.mkdir(parents=True)
        rec_no = recordings.index(recording) + 1
        ids = {"user": f"U{rec_no:02d}", "operator": f"O{rec_no:02d}"}
        # as released: the recording is a number; its date-time (Table 5's name) starts the media file names
        (sdir / "session.xml").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<session sessionId="{folder}" recording="{rec_no}" character="{CHARACTERS[char]}" '
            f'userId="{ids["user"]}" operatorId="{ids["operator"]}" synthetic="true"/>\n'
        )
        end = max(t.end_s for t in turns) + 1.0
        for slot, role in enumerate(ROLES):
            _write_silent_wav(sdir / f"{recording}_{role.capitalize()} HeadMounted_{CHARACTERS[char]}.wav")
            own = [(i, t) for i, t in enumerate(turns) if t.speaker == slot]
            _write_transcript(sdir / f"wordLevel_alignedTranscript_S{folder}_{role}", recording, own)
            write_openface_csv(pre / "openface" / f"{folder}_{role}.csv", openface_frames(rng, turns, slot, end))
            target = "U" if role == "user" else "O"
            times = np.array([t.start_s for _, t in own]) if own else np.zeros(0)
            states = np.array([t.state for _, t in own]) if own else np.zeros((0, 3))
            for dim in DIMENSIONS:
                values = trace_value(dim, states)
                for rater in RATERS:
                    samples = trace_samples(rng, times, values, end) if own else np.zeros((0, 2))
                    part = "2" if rater == 2 and folder % 3 == 0 else ""  # the release's optional `2` before D
                    if len(samples):
                        np.savetxt(
                            sdir / f"R{rater}S{folder}T{target}C{char}{part}D{dim}.txt", samples, fmt="%.2f %.4f"
                        )
            for i, t in own:
                uid = f"{folder}_{role}_{i:03d}"
                probs = tone_probabilities(rng, t.state)
                valid = (t.end_s - t.start_s) >= 0.8 and rng.random() > 0.03
                voc_rows.append((uid, int(valid), *(probs if valid else np.zeros(5))))
                truth_rows.append(
                    {
                        "utterance_id": uid,
                        "session": recording,
                        "dialogue": str(folder),
                        "scenario": scenario,
                        "speaker": ids[role],
                        "valence": t.state[0],
                        "arousal": t.state[1],
                        "dominance": t.state[2],
                    }
                )
    voc = pd.DataFrame(
        voc_rows, columns=["utterance_id", "valid", "neutrality", "happiness", "sadness", "anger", "fear"]
    )
    voc.to_csv(pre / "vokaturi.csv", index=False, float_format="%.4f")
    return pd.DataFrame(truth_rows)


def _write_transcript(path: Path, recording: str, own: list[tuple[int, Talkturn]]) -> None:
    """Word-level transcript: a separator per turn, `start_ms end_ms WORD` per word, and `.` to end the turn."""
    lines = []
    for i, t in own:
        lines.append(f"---recording {recording} turn {i}---")
        words = words_of(t.text)
        edges = np.linspace(t.start_s, t.end_s, len(words) + 1)
        for w, a, b in zip(words, edges[:-1], edges[1:]):
            lines.append(f"{int(round(a * 1000))} {int(round(b * 1000))} {w}")
        lines.append(".")
    path.write_text("\n".join(lines) + "\n")


def _write_silent_wav(path: Path) -> None:
    """A valid, empty 16 kHz WAV: the synthetic corpus has no audio, but its file names carry the recording
    date-time."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
