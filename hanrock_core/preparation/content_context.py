"""Content context: talkturn i together with up to `content_size` preceding talkturns of its dialogue.

The model is hierarchical (words within talkturns, talkturns within the input), so the context
is kept as a sequence of talkturn positions, never as one flat string.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hanrock_core.base.errors import InputError

PAD = -1


def context_windows(table: pd.DataFrame, content_size: int) -> np.ndarray:
    """Row positions of each talkturn's context, shape (n_talkturns, content_size + 1).

    Row i reads oldest to newest and ends with i itself; slots before the dialogue's first
    talkturn hold PAD (-1), on the left.  Context never crosses a dialogue.
    """
    if content_size < 0:
        raise InputError(f"content_size must be >= 0, got {content_size}")
    dialogue = table["dialogue"].to_numpy()
    turn = table["turn_index"].to_numpy(dtype=np.int64)
    order = np.lexsort((turn, dialogue))  # rows grouped by dialogue, in talkturn order
    starts = np.r_[True, dialogue[order][1:] != dialogue[order][:-1]]
    first_of_run = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    offsets = np.arange(-content_size, 1)  # (content_size + 1,)
    sorted_pos = np.arange(len(order))[:, None] + offsets[None, :]  # positions in the sorted order
    valid = sorted_pos >= first_of_run[:, None]
    windows_sorted = np.where(valid, order[np.clip(sorted_pos, 0, None)], PAD)
    windows = np.empty_like(windows_sorted)
    windows[order] = windows_sorted
    return windows
