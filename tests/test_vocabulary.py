"""Vocabulary from the train split, padded word tensors, optional GloVe vectors."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from hanrock_core.base.errors import InputError
from hanrock_core.preparation.vocabulary import OOV_ID, PAD_ID, build_vocabulary, encode


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


def _vectors(tmp_path, text: str, name: str = "v.txt", **spec):
    import gzip

    from hanrock_core.preparation.pretrained_vectors import VectorSpec, load_vectors

    vocab = build_vocabulary(pd.Series(["cat dog cat Cat"]), pd.Series(["train"]))
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    counts = torch.bincount(encode(pd.Series(["cat dog cat Cat"]), vocab)[0].flatten(), minlength=len(vocab)).numpy()
    return vocab, load_vectors(VectorSpec(path, **spec), vocab, counts, seed=0)


def test_glove_vectors_their_coverage_and_bad_lines(tmp_path):
    vocab, v = _vectors(tmp_path, "cat 1 2 3\nbird 4 5 6\nCAT 7 8 9\n")
    m = v.matrix
    assert m.shape == (5, 3) and torch.equal(m[vocab.index["cat"]], torch.tensor([1.0, 2.0, 3.0]))  # exact word wins
    assert torch.equal(m[vocab.index["Cat"]], torch.tensor([0.0, 0.0, 0.0]))  # lower-case 'cat' is taken by 'cat'
    assert m[vocab.index["dog"]].abs().sum() == 0 and m[PAD_ID].abs().sum() == 0  # missing words start at zero
    assert v.token_coverage == pytest.approx(2 / 4) and v.vocabulary_coverage == pytest.approx(1 / 3)
    with pytest.raises(InputError, match="expected 3") as info:
        _vectors(tmp_path, "cat 1 2 3\ndog 4 5\n")
    assert info.value.line == 2
    with pytest.raises(InputError, match="format: word2vec"):
        _vectors(tmp_path, "2 3\ncat 1 2 3\n")


def test_word2vec_gz_and_random_missing_vectors(tmp_path):
    vocab, v = _vectors(tmp_path, "2 3\ndog 1 1 1\nunused 2 2 2\n", "v.vec.gz", format="word2vec", missing="random")
    assert torch.equal(v.matrix[vocab.index["dog"]], torch.ones(3))
    assert v.matrix[vocab.index["cat"]].abs().sum() > 0 and v.matrix[PAD_ID].abs().sum() == 0
    assert v.found[vocab.index["dog"]] and not v.found[vocab.index["cat"]]


def test_word_vectors_use_the_vocabulary_ids():
    from hanrock_core.preparation import pretrained_vectors as word_vectors

    assert (word_vectors.PAD_ID, word_vectors.OOV_ID) == (PAD_ID, OOV_ID)
