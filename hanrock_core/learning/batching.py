"""The order in which a training epoch visits talkturns (the samplers) and the talkturns one batch reads.

docs/training.md compares the three samplers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from hanrock_core.learning.task_data import TaskData

CHUNK_TALKTURNS = 4  # the `chunks` sampler's stretch of consecutive talkturns


def _dialogue_order(data: TaskData, samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The samples dialogue by dialogue (dialogues in random order), each dialogue's in turn order."""
    dialogues = rng.permutation(np.unique(data.dialogue_codes[samples]))
    rank = np.empty(dialogues.max() + 1, dtype=np.int64)
    rank[dialogues] = np.arange(len(dialogues))
    return samples[np.lexsort((data.turn_index[samples], rank[data.dialogue_codes[samples]]))]


def _chunk_order(data: TaskData, samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stretches of CHUNK_TALKTURNS consecutive talkturns of one dialogue, the stretches in random order."""
    ordered = samples[np.lexsort((data.turn_index[samples], data.dialogue_codes[samples]))]
    codes = data.dialogue_codes[ordered]
    position = pd.Series(codes).groupby(codes).cumcount().to_numpy()  # each sample's place in its dialogue
    chunk = np.cumsum(position % CHUNK_TALKTURNS == 0) - 1  # a new chunk every CHUNK_TALKTURNS, and per dialogue
    shuffled = rng.permutation(chunk.max() + 1)
    return ordered[np.argsort(shuffled[chunk], kind="stable")]


def batches(
    data: TaskData, samples: np.ndarray, batch_size: int, sampler: str, rng: np.random.Generator
) -> list[np.ndarray]:
    """Sample indices per optimisation step.

    `shuffle` (paper-faithful): samples in random order, independent of dialogues.  `chunks`:
    stretches of 4 consecutive talkturns of one dialogue in random order, so a batch mixes many
    conversations while the talkturns of a stretch share their content context (cheaper).
    `dialogue`: dialogues in random order, each one's talkturns in order, cut into batches, so
    neighbouring samples share most of their content context (cheapest; a batch is one stretch of
    one conversation, which learns far slower: docs/training.md).
    """
    if sampler == "shuffle":
        order = rng.permutation(samples)
    elif sampler == "chunks":
        order = _chunk_order(data, samples, rng)
    else:
        order = _dialogue_order(data, samples, rng)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def distinct_talkturns(data: TaskData, windows: torch.Tensor, rows: np.ndarray, device) -> tuple[torch.Tensor, ...]:
    """The model's inputs for a batch: its distinct talkturns (words trimmed to their longest, lengths), the
    windows pointing into them, and each distinct talkturn's speaker code (None where the data has none)."""
    batch_windows = windows[torch.from_numpy(rows)]  # (B, L) positions in the table
    distinct, inverse = torch.unique(batch_windows.clamp(min=0), return_inverse=True)  # (U,), (B, L)
    local = torch.where(batch_windows >= 0, inverse, torch.full_like(inverse, -1))
    lengths = data.lengths[distinct]
    words = data.words[distinct, : max(1, int(lengths.max()))]
    speakers = None if data.speaker_codes is None else torch.from_numpy(data.speaker_codes[distinct.numpy()]).to(device)
    return words.to(device), lengths.to(device), local.to(device), speakers


__all__ = ["CHUNK_TALKTURNS", "batches", "distinct_talkturns"]
