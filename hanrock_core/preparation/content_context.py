"""Content context: talkturn i together with up to `content_size` preceding talkturns of its dialogue
and, where a profile asks for it (`content_after`, not in the paper), up to that many following ones.

The model is hierarchical (words within talkturns, talkturns within the input), so the context
is kept as a sequence of talkturn positions, never as one flat string.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hanrock_core.base.errors import InputError

PAD = -1


def context_windows(table: pd.DataFrame, content_size: int, content_after: int = 0) -> np.ndarray:
    """Row positions of each talkturn's context, shape (n_talkturns, content_size + 1 + content_after).

    Row i reads oldest to newest; column `content_size` holds i itself, the columns after it the
    talkturns that follow i.  Slots outside the dialogue hold PAD (-1): before its first talkturn on
    the left, after its last on the right.  Context never crosses a dialogue.
    """
    if content_size < 0 or content_after < 0:
        raise InputError(f"content_size and content_after must be >= 0, got {content_size} and {content_after}")
    dialogue = table["dialogue"].to_numpy()
    turn = table["turn_index"].to_numpy(dtype=np.int64)
    order = np.lexsort((turn, dialogue))  # rows grouped by dialogue, in talkturn order
    n = len(order)
    starts = np.r_[True, dialogue[order][1:] != dialogue[order][:-1]]
    ends = np.r_[starts[1:], True]  # the last talkturn of each dialogue
    first_of_run = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    last_of_run = np.minimum.accumulate(np.where(ends, np.arange(n), n)[::-1])[::-1]
    offsets = np.arange(-content_size, content_after + 1)  # (content_size + 1 + content_after,)
    sorted_pos = np.arange(n)[:, None] + offsets[None, :]  # positions in the sorted order
    valid = (sorted_pos >= first_of_run[:, None]) & (sorted_pos <= last_of_run[:, None])
    windows_sorted = np.where(valid, order[np.clip(sorted_pos, 0, max(n - 1, 0))], PAD)
    windows = np.empty_like(windows_sorted)
    windows[order] = windows_sorted
    return windows
