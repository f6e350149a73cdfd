"""Attention levels of appendix A.5: read a model's combined attention and bucket it.

The word (alpha_it) and talkturn (alpha_abi) attention of the primary and auxiliary encoders are
combined with the fusion's task attention (alpha_c) as weights; each combined weight is z-scored
within its window (talkturns) or talkturn (words) and bucketed into none / low / medium / high.
The attention report (attention_report.py) and `hanrock predict --attention` both use this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hanrock_core.learning.batching import distinct_talkturns
from hanrock_core.learning.model import HierarchicalModel, align_windows
from hanrock_core.learning.task_data import TaskData

LEVELS = ("none", "low", "medium", "high")


def attention_level(z: float) -> str:
    """A.5's buckets of a z-scored attention weight: z < 0 none, [0, 1) low, [1, 2) medium, >= 2 high."""
    if z < 0:
        return "none"
    return "low" if z < 1 else "medium" if z < 2 else "high"


def zscore(weights: np.ndarray) -> np.ndarray:
    """Standardised weights; equal weights (or a single one) all get z = 0."""
    weights = np.asarray(weights, dtype=float)
    if weights.size == 0:  # an empty talkturn has no words to rank
        return weights
    sd = weights.std()
    return np.zeros_like(weights) if sd < 1e-12 else (weights - weights.mean()) / sd


@dataclass
class WindowAttention:
    """Combined attention of one sample: its window's talkturns, oldest first; the current one is `own`
    (the last, unless the window holds following talkturns: content_after)."""

    row: int  # the current talkturn's row in the task data
    rows: list[int]  # the window's talkturn rows, oldest first
    talkturn: np.ndarray  # (L,) combined talkturn attention, sums to 1
    words: list[np.ndarray]  # per talkturn: (words,) combined word attention, sums to 1
    prediction: int | float  # class index or value
    own: int = -1  # index of the current talkturn in `rows` (-1: the last)

    def offset(self, position: int) -> str:
        """The talkturn at `position` of the window relative to the current one: i, i-1, i+1, ..."""
        k = position - (self.own % len(self.rows))
        return "i" if k == 0 else f"i{k:+d}"


@torch.no_grad()
def window_attention(
    model: HierarchicalModel,
    data: TaskData,
    windows: torch.Tensor,
    rows: np.ndarray,
    device: torch.device | str = "cpu",
) -> list[WindowAttention]:
    """Combined word and talkturn attention of `rows`, weighted by the fusion's task attention."""
    model.eval()
    words, lengths, local, speakers = distinct_talkturns(data, windows, rows, device)
    out = model(words, lengths, local, speakers, return_attention=True)
    att = out.attention
    word = att["word"]  # (U, T) primary word attention
    turn = att["talkturn"]  # (B, L) primary talkturn attention over the left-aligned window
    if "task" in att:
        task = att["task"]  # (B, N + 1): the auxiliary tasks, then the primary branch last
        primary_share = task[:, -1]  # (B,)
        turn = primary_share[:, None] * turn + torch.einsum("bn,nbl->bl", task[:, :-1], att["aux_talkturn"])
        aux_word = att["aux_word"]  # (U, T): one auxiliary word encoder shared by every task
    else:
        primary_share = torch.ones(len(rows), device=word.device)
        aux_word = torch.zeros_like(word)
    aligned_local = att["aligned_windows"]  # (B, L) positions into the distinct talkturns, -1 = none
    # (B, L) task-data rows, (B,), (B,) where the current talkturn sits
    aligned_rows, window_lengths, own = align_windows(windows[torch.from_numpy(rows)], model.shape.content_after)
    predictions = out.primary.argmax(-1) if data.classification else out.primary[:, 0]
    samples = []
    for b, row in enumerate(rows):
        n = int(window_lengths[b])
        per_turn = []
        for j in range(n):
            u = int(aligned_local[b, j])
            k = int(lengths[u])
            w = primary_share[b] * word[u, :k] + (1 - primary_share[b]) * aux_word[u, :k]  # (k,)
            per_turn.append(w.double().cpu().numpy())
        samples.append(
            WindowAttention(
                row=int(row),
                rows=[int(r) for r in aligned_rows[b, :n]],
                talkturn=turn[b, :n].double().cpu().numpy(),
                words=per_turn,
                prediction=predictions[b].item(),
                own=int(own[b]),
            )
        )
    return samples


__all__ = ["LEVELS", "WindowAttention", "attention_level", "window_attention", "zscore"]
