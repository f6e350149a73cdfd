"""Content context windows: current talkturn plus preceding ones of the same dialogue only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hanrock_core.base.errors import InputError
from hanrock_core.preparation.content_context import PAD, context_windows


def test_windows_stay_inside_their_dialogue_whatever_the_row_order():
    table = pd.DataFrame({"dialogue": ["b", "a", "a", "b", "a"], "turn_index": [1, 2, 0, 0, 1]})
    w = context_windows(table, 2)
    assert w.shape == (5, 3)
    np.testing.assert_array_equal(w[2], [PAD, PAD, 2])  # a0
    np.testing.assert_array_equal(w[4], [PAD, 2, 4])  # a1
    np.testing.assert_array_equal(w[1], [2, 4, 1])  # a2
    np.testing.assert_array_equal(w[0], [PAD, 3, 0])  # b1 never reaches into a


def test_content_size_zero_and_negative():
    table = pd.DataFrame({"dialogue": ["a", "a"], "turn_index": [0, 1]})
    np.testing.assert_array_equal(context_windows(table, 0), [[0], [1]])
    with pytest.raises(InputError, match="content_size"):
        context_windows(table, -1)


def test_following_talkturns_fill_the_right_of_the_window_and_never_leave_the_dialogue():
    """content_after: the sample's talkturn sits in column content_size; the talkturns after it follow,
    PAD past its dialogue's last talkturn, whatever the row order."""
    table = pd.DataFrame({"dialogue": ["b", "a", "a", "b", "a"], "turn_index": [1, 2, 0, 0, 1]})
    w = context_windows(table, 1, 2)
    assert w.shape == (5, 4)
    np.testing.assert_array_equal(w[2], [PAD, 2, 4, 1])  # a0: a1, a2 after it
    np.testing.assert_array_equal(w[4], [2, 4, 1, PAD])  # a1
    np.testing.assert_array_equal(w[1], [4, 1, PAD, PAD])  # a2: the last of a
    np.testing.assert_array_equal(w[3], [PAD, 3, 0, PAD])  # b0: b1 after it, never a's
    np.testing.assert_array_equal(context_windows(table, 1, 0), context_windows(table, 1))
    with pytest.raises(InputError, match="content_after"):
        context_windows(table, 1, -1)
