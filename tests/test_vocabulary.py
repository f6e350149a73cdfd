"""Vocabulary from the train partition, padded word tensors, optional GloVe vectors."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from hanrock_core.errors import InputError
from hanrock_core.vocabulary import OOV_ID, PAD_ID, build_vocabulary, encode, load_glove


def test_train_only_vocabulary_and_oov():
    inputs = pd.Series(["woman said hi hi", "man said yo", "woman said unseen"])
    part = pd.Series(["train", "train", "test"])
    vocab = build_vocabulary(inputs, part)
    assert vocab.words[:4] == ("<pad>", "<oov>", "hi", "said")  # by frequency, then alphabetical
    assert "unseen" not in vocab.index
    ids, lengths = encode(inputs, vocab)
    assert ids.shape == (3, 4) and lengths.tolist() == [4, 3, 3]
    assert ids[2, 2].item() == OOV_ID and ids[1, 3].item() == PAD_ID
    assert build_vocabulary(inputs, part, min_count=2).words == ("<pad>", "<oov>", "hi", "said")


def test_truncation_and_empty_talkturns():
    vocab = build_vocabulary(pd.Series(["a b c d e"]), pd.Series(["train"]))
    ids, lengths = encode(pd.Series(["a b c d e", ""]), vocab, max_words=3)
    assert ids.shape == (2, 3) and lengths.tolist() == [3, 0] and ids[1].sum() == 0


def test_glove_vectors_and_bad_lines(tmp_path):
    vocab = build_vocabulary(pd.Series(["cat dog cat"]), pd.Series(["train"]))
    path = tmp_path / "g.txt"
    path.write_text("cat 1 2 3\nbird 4 5 6\n")
    m = load_glove(path, vocab)
    assert m.shape == (4, 3) and torch.equal(m[vocab.index["cat"]], torch.tensor([1.0, 2.0, 3.0]))
    assert m[vocab.index["dog"]].abs().sum() == 0 and m[PAD_ID].abs().sum() == 0
    path.write_text("cat 1 2 3\ndog 4 5\n")
    with pytest.raises(InputError, match="expected 3") as info:
        load_glove(path, vocab)
    assert info.value.line == 2
