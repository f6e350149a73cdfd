"""Vocabulary and word tensors of the normalised narratives.

Ids: 0 = padding, 1 = out-of-vocabulary (a word not seen in the train split, or seen fewer
than `min_count` times there), then train words by descending frequency, ties alphabetical.
Every talkturn becomes a row of word ids padded to the longest talkturn (at most `max_words`,
the authors' 120) and its length.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd
import torch

PAD_ID, OOV_ID = 0, 1
MAX_WORDS = 120


@dataclass(frozen=True)
class Vocabulary:
    words: tuple[str, ...]  # index = id; words[0] = "<pad>", words[1] = "<oov>"

    @property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)


def tokenise(model_input: str) -> list[str]:
    """Normalised narratives are already lower-case words separated by spaces."""
    return model_input.split()


def build_vocabulary(inputs: pd.Series, split: pd.Series, min_count: int = 1) -> Vocabulary:
    """Vocabulary of the train split's normalised narratives."""
    counts = Counter(w for text in inputs[split == "train"] for w in tokenise(text))
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return Vocabulary(("<pad>", "<oov>", *kept))


def encode(inputs: pd.Series, vocab: Vocabulary, max_words: int = MAX_WORDS) -> tuple[torch.Tensor, torch.Tensor]:
    """Word ids (n, L) padded with 0 and lengths (n,), L = min(longest talkturn, max_words).

    A talkturn longer than `max_words` keeps its first `max_words` words; an empty one has length 0.
    """
    index = vocab.index
    rows = [[index.get(w, OOV_ID) for w in tokenise(text)][:max_words] for text in inputs]
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    ids = torch.zeros((len(rows), max(1, int(lengths.max()) if len(rows) else 1)), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return ids, lengths
