"""Write a synthetic corpus in the IEMOCAP release layout (plus OpenFace and Vokaturi outputs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hanrock_core.reading.paper_tables import IEMOCAP_CODE_COUNTS, IEMOCAP_SESSIONS
from hanrock_core.reading.synthetic.ground_truth import (
    Talkturn,
    assign_with_quotas,
    emotion_scores,
    scaled_counts,
    simulate_dialogue,
    split_evenly,
)
from hanrock_core.reading.synthetic.signals import openface_frames, tone_probabilities, write_openface_csv

TURNS_PER_DIALOGUE = 62  # IEMOCAP has ~151 dialogues for 10,039 utterances
MIN_TURNS_PER_SESSION = 6
GENDERS = ("F", "M")  # speaker slot 0 is the actress, slot 1 the actor
RATER_WORDS = {
    "ang": "Anger",
    "hap": "Happiness",
    "exc": "Excited",
    "neu": "Neutral state",
    "sad": "Sadness",
    "fru": "Frustration",
    "sur": "Surprise",
    "fea": "Fear",
    "oth": "Other",
    "dis": "Disgust",
    "xxx": "Neutral state",
}


def _dialogue_names(session: str, n: int) -> list[str]:
    """impro01.. for the first half, script01_1.. for the rest, as IEMOCAP names them."""
    n_impro = (n + 1) // 2
    names = [f"{session}_impro{j + 1:02d}" for j in range(n_impro)]
    names += [f"{session}_script{j // 3 + 1:02d}_{j % 3 + 1}" for j in range(n - n_impro)]
    return names


def simulate(scale: float, seed: int) -> list[tuple[str, str, str, list[Talkturn]]]:
    """(session, dialogue, scenario, talkturns) for every dialogue of the corpus."""
    dialogues = []
    for s_idx, (session, (_, count)) in enumerate(IEMOCAP_SESSIONS.items()):
        total = max(MIN_TURNS_PER_SESSION, round(count * scale))
        plan_rng = np.random.default_rng([seed, 1, s_idx])
        sizes = split_evenly(plan_rng, total, max(1, round(total / TURNS_PER_DIALOGUE)))
        for d_idx, (name, size) in enumerate(zip(_dialogue_names(session, len(sizes)), sizes)):
            rng = np.random.default_rng([seed, 1, s_idx, d_idx])
            scenario, turns = simulate_dialogue(rng, size)
            dialogues.append((session, name, scenario, turns))
    return dialogues


def _utterance_ids(dialogue: str, turns: list[Talkturn]) -> list[str]:
    counters = [0, 0]
    ids = []
    for t in turns:
        ids.append(f"{dialogue}_{GENDERS[t.speaker]}{counters[t.speaker]:03d}")
        counters[t.speaker] += 1
    return ids


def rate(rng: np.random.Generator, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raters' emotion codes (with the corpus's exact code proportions) and V/A/D means on 1..5."""
    n = len(states)
    codes = scaled_counts(IEMOCAP_CODE_COUNTS, n)
    groups = {
        "ang": ["ang"],
        "happy": ["hap", "exc"],
        "neu": ["neu"],
        "sad": ["sad"],
        "other": ["fru", "xxx", "sur", "fea", "oth", "dis"],
    }
    quotas = np.array([sum(codes[c] for c in members) for members in groups.values()])
    scores = emotion_scores(states)[:, [0, 1, 2, 3]]
    scores = np.column_stack([scores, np.full(n, 0.2)]) + rng.normal(0.0, 0.7, (n, 5))
    group_of = assign_with_quotas(scores, quotas)
    out = np.empty(n, dtype=object)
    for g, (name, members) in enumerate(groups.items()):
        rows = np.flatnonzero(group_of == g)
        if name == "happy":  # the livelier happy talkturns are rated 'excited'
            rows = rows[np.argsort(-(states[rows, 1] + rng.normal(0, 0.3, len(rows))), kind="stable")]
        elif name == "other":  # the most negative ones 'frustrated', then rare codes, then disagreement
            rows = rows[np.argsort(states[rows, 0] + rng.normal(0, 0.3, len(rows)), kind="stable")]
        order = ["exc", "hap"] if name == "happy" else members
        at = 0
        for code in order:
            out[rows[at : at + codes[code]]] = code
            at += codes[code]
    vad = 3.0 + 1.5 * states + rng.normal(0.0, 0.35, states.shape)
    vad = np.clip(np.round(vad * 2) / 2, 1.0, 5.0)
    return out, vad


def write(root: Path, scale: float, seed: int) -> pd.DataFrame:
    """Write the corpus under `root`; return the ground truth (one row per talkturn)."""
    dialogues = simulate(scale, seed)
    release = root / "IEMOCAP_full_release"
    pre = root / "preprocessing"
    (pre / "openface").mkdir(parents=True)
    rows = []
    for session, name, scenario, turns in dialogues:
        for uid, t in zip(_utterance_ids(name, turns), turns):
            rows.append(
                {
                    "utterance_id": uid,
                    "session": session,
                    "dialogue": name,
                    "scenario": scenario,
                    "speaker": f"{session[:5]}_{GENDERS[t.speaker]}",
                    "valence": t.state[0],
                    "arousal": t.state[1],
                    "dominance": t.state[2],
                    "_turn": t,
                }
            )
    truth = pd.DataFrame(rows)
    rng = np.random.default_rng([seed, 1, 999])
    states = truth[["valence", "arousal", "dominance"]].to_numpy()
    truth["emotion_code"], vad = rate(rng, states)
    truth["intended_emotion"] = np.array(["angry", "happy", "neutral", "sad"])[
        np.argmax(emotion_scores(states), axis=1)
    ]
    by_dialogue = truth.groupby("dialogue", sort=False)
    voc_rows = []
    for d_idx, (session, name, _, turns) in enumerate(dialogues):
        idx = by_dialogue.indices[name]
        folder = release / f"Session{int(session[3:5])}" / "dialog"
        _write_dialogue(folder, name, truth.iloc[idx], vad[idx])
        rng = np.random.default_rng([seed, 2, d_idx])
        end = max(t.end_s for t in turns)
        for slot, gender in enumerate(GENDERS):
            write_openface_csv(pre / "openface" / f"{name}_{gender}.csv", openface_frames(rng, turns, slot, end))
        for uid, t in zip(truth["utterance_id"].iloc[idx], turns):
            probs = tone_probabilities(rng, t.state)
            valid = (t.end_s - t.start_s) >= 0.8 and rng.random() > 0.03
            voc_rows.append((uid, int(valid), *(probs if valid else np.zeros(5))))
    voc = pd.DataFrame(
        voc_rows, columns=["utterance_id", "valid", "neutrality", "happiness", "sadness", "anger", "fear"]
    )
    voc.to_csv(pre / "vokaturi.csv", index=False, float_format="%.4f")
    return truth.drop(columns="_turn")


def _write_dialogue(folder: Path, name: str, truth: pd.DataFrame, vad: np.ndarray) -> None:
    """One EmoEvaluation file and one transcription file, in time order."""
    (folder / "EmoEvaluation").mkdir(parents=True, exist_ok=True)
    (folder / "transcriptions").mkdir(parents=True, exist_ok=True)
    ev = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    tr = []
    for (uid, code, turn), (v, a, d) in zip(
        truth[["utterance_id", "emotion_code", "_turn"]].itertuples(index=False), vad
    ):
        ev.append(f"[{turn.start_s:.4f} - {turn.end_s:.4f}]\t{uid}\t{code}\t[{v:.4f}, {a:.4f}, {d:.4f}]")
        for rater in (1, 2, 3):
            ev.append(f"C-E{rater}:\t{RATER_WORDS[code]};\t()")
        ev.append(f"A-E1:\tval {int(round(v))}; act {int(round(a))}; dom  {int(round(d))};\t()")
        ev.append("")
        tr.append(f"{uid} [{turn.start_s:08.4f}-{turn.end_s:08.4f}]: {turn.text}")
    (folder / "EmoEvaluation" / f"{name}.txt").write_text("\n".join(ev) + "\n")
    (folder / "transcriptions" / f"{name}.txt").write_text("\n".join(tr) + "\n")
