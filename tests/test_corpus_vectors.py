"""Word vectors learnt from the corpus: from the train split's text only, the same in every process,
cached, declared in a profile, and used by a study."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from hanrock_core.base.errors import InputError
from hanrock_core.base.home import Home
from hanrock_core.preparation.corpus_vectors import corpus_vectors, train_sentences
from hanrock_core.preparation.pretrained_vectors import VectorSpec
from hanrock_core.study.profiles import load_profile
from hanrock_core.study.search import run_hypothesis

from .test_search import TINY_PROFILE, _partition

WORD2VEC = VectorSpec(None, learn="word2vec", epochs=2)


def test_only_train_text_teaches_the_vectors(tiny_iemocap, tmp_path):
    part = _partition(tiny_iemocap, "emotion")
    data = part.data
    before = corpus_vectors(WORD2VEC, data, 8, 0, None)
    assert before.vocabulary_coverage == 1.0 and before.token_coverage == 1.0  # every train word has one
    assert before.matrix[0].abs().sum() == 0 and before.matrix[1].abs().sum() == 0  # padding, unknown words
    held_out = data.split != "train"
    data.texts = np.where(held_out, "utterly different words", data.texts)  # dev and test text changed
    assert torch.equal(corpus_vectors(WORD2VEC, data, 8, 0, None).matrix, before.matrix)
    first_train = int(np.flatnonzero(~held_out)[0])
    data.texts[first_train] = data.texts[first_train] + " one more"  # train text changed: other vectors
    assert not torch.equal(corpus_vectors(WORD2VEC, data, 8, 0, None).matrix, before.matrix)
    assert all(s for s in train_sentences(data)) and len(train_sentences(data)) == int((~held_out).sum())


def test_the_same_text_and_seed_give_the_same_vectors_in_any_process(tiny_iemocap, tmp_path):
    """gensim seeds each word's start from a hash of it; Python's own string hash differs per process."""
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from tests.test_search import _partition
        from hanrock_core.preparation.corpus_vectors import corpus_vectors
        from hanrock_core.preparation.pretrained_vectors import VectorSpec
        part = _partition(__import__("pathlib").Path({str(tiny_iemocap)!r}), "emotion")
        for learn in ("word2vec", "fasttext"):
            v = corpus_vectors(VectorSpec(None, learn=learn, epochs=2), part.data, 8, 3, None)
            np.save(sys.argv[1] + learn + ".npy", v.matrix.numpy())
        """
    )
    for hash_seed in ("1", "2"):
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / hash_seed)],
            check=True,
            env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin"},
            cwd=str(__import__("pathlib").Path(__file__).parents[1]),
        )
    for learn in ("word2vec", "fasttext"):
        assert np.array_equal(np.load(tmp_path / f"1{learn}.npy"), np.load(tmp_path / f"2{learn}.npy"))


def test_learnt_vectors_are_cached_by_text_and_settings(tiny_iemocap, tmp_path, monkeypatch):
    import hanrock_core.preparation.corpus_vectors as module

    data = _partition(tiny_iemocap, "emotion").data
    cache = Home(tmp_path).word_vectors_cache
    learnt = corpus_vectors(WORD2VEC, data, 8, 0, cache)
    assert len(list(cache.glob("*.npz"))) == 1 and not list(cache.glob("*.tmp"))

    def refuse(*args):
        raise AssertionError("learnt again although cached")

    monkeypatch.setattr(module, "learn_word_vectors", refuse)
    assert torch.equal(corpus_vectors(WORD2VEC, data, 8, 0, cache).matrix, learnt.matrix)
    with pytest.raises(AssertionError, match="learnt again"):  # another seed is another cache entry
        corpus_vectors(WORD2VEC, data, 8, 1, cache)


def test_a_profile_declares_learnt_vectors_and_refuses_mixed_or_unknown_ones(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(TINY_PROFILE.format(trials=2) + "embeddings: {learn: fasttext, epochs: 3}\n")
    spec = load_profile(path).embeddings
    assert spec.learn == "fasttext" and spec.epochs == 3 and spec.path is None
    for bad, says in (
        ("{learn: glove}", "must be one of"),
        ("{learn: word2vec, path: v.txt}", "both `path` and `learn`"),
        ("{path: v.txt, window: 3}", "learnt vectors only"),
        ("{learn: word2vec, epochs: 0}", "at least 1"),
        ("{trainable: true}", "learn: word2vec"),
    ):
        path.write_text(TINY_PROFILE.format(trials=2) + f"embeddings: {bad}\n")
        with pytest.raises(InputError, match=says) as info:
            load_profile(path)
        assert info.value.line == 11


def test_a_study_starts_from_vectors_learnt_on_its_train_split(tiny_iemocap, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(TINY_PROFILE.format(trials=2) + "embeddings: {learn: word2vec, epochs: 2}\n")
    profile = load_profile(path)
    part = _partition(tiny_iemocap, "emotion")
    lines = []
    run_hypothesis(part, profile, "h1", Home(tmp_path), log=lines.append)
    assert any("word vectors: word2vec learnt on the train split" in line for line in lines)
    assert part.vectors is not None and part.vectors.vocabulary_coverage == 1.0
    assert len(list(Home(tmp_path).word_vectors_cache.glob("*.npz"))) == 1


def test_a_profile_min_count_makes_rare_train_words_unknown_in_the_study(tiny_iemocap, tmp_path):
    from hanrock_core.learning.task_data import with_min_count
    from hanrock_core.study.study_identity import study_identity

    part = _partition(tiny_iemocap, "emotion")
    rare = with_min_count(part.data, 2)
    counts = rare.train_token_counts()
    assert rare.min_count == 2 and len(rare.vocab) < len(part.data.vocab) and (counts[2:] >= 2).all()
    assert torch.equal(with_min_count(rare, 1).words, part.data.words)  # and back
    path = tmp_path / "p.yaml"
    path.write_text(TINY_PROFILE.format(trials=2) + "min_count: 2\n")
    profile = load_profile(path)
    assert profile.min_count == 2
    plain = load_profile(_written(tmp_path / "q.yaml", TINY_PROFILE.format(trials=2)))
    assert study_identity(part, profile).id != study_identity(part, plain).id
    run_hypothesis(part, profile, "h1", Home(tmp_path), log=lambda m: None)
    assert part.data.vocab == rare.vocab
    path.write_text(TINY_PROFILE.format(trials=2) + "min_count: 0\n")
    with pytest.raises(InputError, match="min_count must be at least 1"):
        load_profile(path)


def _written(path, text):
    path.write_text(text)
    return path
