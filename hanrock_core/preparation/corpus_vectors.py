"""Word vectors learnt from the corpus itself, for users without pretrained ones (GloVe).

gensim's skip-gram (`word2vec`) or its subword variant (`fasttext`: a word's vector is the sum of its
character n-grams', so rare and misspelt words share what their pieces learnt) is trained on the
**train split's** model inputs only -- never dev or test text -- before the study, with one thread and
a fixed hash so that the same text and seed give the same vectors.  The vectors then start the
embedding layer as pretrained ones would.  They are cached under `$HANROCK_HOME/cache/word_vectors`
by a digest of the train text and the settings, so the trials of a study (and a re-run) learn them
once; the study identity covers them through the embedding matrix it hashes.
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import Protocol

import numpy as np

from hanrock_core.base.io import atomic_path
from hanrock_core.preparation.pretrained_vectors import Vectors, VectorSpec
from hanrock_core.preparation.vocabulary import OOV_ID, tokenise

MIN_COUNT = 1  # every train word gets a vector: the vocabulary keeps every train word too


class TaskText(Protocol):
    """What the learner reads of a partition's TaskData (training.py; no import of the later stage)."""

    texts: np.ndarray  # (N,) model inputs
    split: np.ndarray  # (N,) train / dev / test
    vocab: object  # Vocabulary: `.words`, id order

    def train_token_counts(self) -> np.ndarray: ...


def train_sentences(data: TaskText) -> list[list[str]]:
    """The train split's talkturns as word lists: the only text the vectors may learn from."""
    return [tokenise(text) for text, split in zip(data.texts, data.split) if split == "train"]


def _stable_hash(text: str) -> int:
    """gensim seeds each word's first vector from a hash of it; Python's own hash changes per process."""
    return zlib.crc32(text.encode("utf-8"))


def vectors_digest(spec: VectorSpec, sentences: list[list[str]], width: int, seed: int) -> str:
    """What the vectors depend on: the train text, the learner and its settings, the width and the seed."""
    digest = hashlib.sha256(f"{spec.learn}|{spec.epochs}|{spec.window}|{width}|{seed}|{MIN_COUNT}\n".encode())
    for sentence in sentences:
        digest.update(" ".join(sentence).encode("utf-8") + b"\n")
    return digest.hexdigest()[:20]


def learn_word_vectors(spec: VectorSpec, sentences: list[list[str]], width: int, seed: int):
    """gensim's KeyedVectors learnt on `sentences` (one worker thread: deterministic)."""
    from gensim.models import FastText, Word2Vec

    learner = FastText if spec.learn == "fasttext" else Word2Vec
    model = learner(
        sentences=sentences,
        vector_size=width,
        window=spec.window,
        min_count=MIN_COUNT,
        sg=1,  # skip-gram: better than CBOW on small corpora
        epochs=spec.epochs,
        seed=seed,
        workers=1,
        hashfxn=_stable_hash,
    )
    return model.wv


def corpus_vectors(spec: VectorSpec, data: TaskText, width: int, seed: int, cache: Path | None) -> Vectors:
    """The embedding matrix (V, width) of the data's vocabulary from vectors learnt on its train text.

    Padding and the unknown-word row stay zero; with `fasttext` every vocabulary word has a vector."""
    import torch

    sentences = train_sentences(data)
    path = None if cache is None else cache / f"{vectors_digest(spec, sentences, width, seed)}.npz"
    words = list(data.vocab.words)
    if path is not None and path.exists():
        with np.load(path, allow_pickle=False) as stored:
            known, table = list(stored["words"]), stored["vectors"]
        index = {w: i for i, w in enumerate(known)}
        rows = {w: table[index[w]] for w in words[OOV_ID + 1 :] if w in index}
    else:
        kv = learn_word_vectors(spec, sentences, width, seed)
        rows = {w: kv[w] for w in words[OOV_ID + 1 :] if spec.learn == "fasttext" or w in kv.key_to_index}
        if path is not None:
            kept = sorted(rows)
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as temporary, open(temporary, "wb") as handle:  # never half-written
                np.savez(handle, words=np.array(kept, dtype=str), vectors=np.stack([rows[w] for w in kept]))
    matrix = np.zeros((len(words), width), dtype=np.float32)
    found = np.zeros(len(words), dtype=bool)
    for i, word in enumerate(words):
        if i > OOV_ID and word in rows:
            matrix[i], found[i] = rows[word], True
    if spec.unit_spread and found.any():  # skip-gram vectors are small (sd ~0.15); a new embedding starts at sd 1
        matrix[found] /= float(matrix[found].std()) or 1.0
    counts = data.train_token_counts()[OOV_ID + 1 :]
    total = float(counts.sum())
    return Vectors(
        matrix=torch.from_numpy(matrix),
        found=found,
        token_coverage=float(counts[found[OOV_ID + 1 :]].sum()) / total if total else 0.0,
        vocabulary_coverage=float(found[OOV_ID + 1 :].mean()) if len(words) > OOV_ID + 1 else 0.0,
        source=spec.describe(),
    )


__all__ = ["corpus_vectors", "learn_word_vectors", "train_sentences", "vectors_digest"]
