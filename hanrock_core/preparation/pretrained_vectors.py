"""Pretrained word vectors for the embedding layer (the paper: GloVe 6B 300d, trainable).

Text formats: `glove` (`word v1 ... vd` per line), `word2vec` and `fasttext` (`.vec`: the same
after a `count dim` header line); a `.gz` file is read compressed.  The platform downloads
nothing: the user points at their copy.  Words the file lacks start at zero (the authors' choice)
or random (an option); the file's width must equal the profile's `embedding_dim`.  Without a file,
`learn: word2vec | fasttext` trains vectors on the train split's own text first (corpus_vectors.py).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hanrock_core.base.config_file import ConfigFile, as_bool, as_int, as_mapping, as_str, refuse_unknown
from hanrock_core.base.errors import InputError
from hanrock_core.base.input_files import decode

if TYPE_CHECKING:
    import torch

PAD_ID, OOV_ID = 0, 1  # the vocabulary's (vocabulary.py); repeated so that settings need not import torch

FORMATS = ("glove", "word2vec", "fasttext")
MISSING = ("zero", "random")
LEARNERS = ("word2vec", "fasttext")  # gensim's skip-gram word vectors; fastText adds subword pieces
KEYS = {"path", "format", "trainable", "missing", "learn", "epochs", "window", "unit_spread"}


@dataclass(frozen=True)
class VectorSpec:
    """Where the vectors are and how they are used (`embeddings:` in a profile or the settings): a file of
    pretrained vectors (`path`), or vectors learnt from the train split's text (`learn`)."""

    path: Path | None
    format: str = "glove"
    trainable: bool = True  # the authors fine-tuned GloVe
    missing: str = "zero"  # words the file lacks: zero (the authors) or random
    learn: str | None = None  # word2vec or fasttext: trained on the train split's text (no file)
    epochs: int = 20  # passes of the learner over the train text
    window: int = 5  # words either side that a word predicts
    unit_spread: bool = False  # learnt vectors rescaled to sd 1, the spread a from-scratch embedding starts with

    def describe(self) -> str:
        """Where the vectors come from, in words (log lines, the kept model's card)."""
        if self.learn:
            spread = ", rescaled to sd 1" if self.unit_spread else ""
            return f"{self.learn} learnt on the train split ({self.epochs} epochs, window {self.window}{spread})"
        return str(self.path)


def parse_vector_spec(cfg: ConfigFile, key: str, value, base: Path) -> VectorSpec | None:
    """`embeddings: {path, format, trainable, missing}` of a profile or the settings (paths relative to the file)."""
    if value is None:
        return None
    entry = as_mapping(cfg, key, value)
    refuse_unknown(cfg, entry, KEYS, f"{key}.")
    if "learn" in entry:
        if "path" in entry:
            raise cfg.error(
                key, f"{key} gives both `path` and `learn`", hint="keep one: a vectors file, or vectors learnt"
            )
        learn = as_str(cfg, f"{key}.learn", entry["learn"])
        if learn not in LEARNERS:
            raise cfg.error(f"{key}.learn", f"{key}.learn must be one of {list(LEARNERS)}, not {learn!r}")
        return VectorSpec(
            None,
            trainable=as_bool(cfg, f"{key}.trainable", entry.get("trainable", True)),
            learn=learn,
            epochs=as_int(cfg, f"{key}.epochs", entry.get("epochs", 20), minimum=1, maximum=1000),
            window=as_int(cfg, f"{key}.window", entry.get("window", 5), minimum=1, maximum=50),
            unit_spread=as_bool(cfg, f"{key}.unit_spread", entry.get("unit_spread", False)),
        )
    if "path" not in entry:
        raise cfg.error(
            key,
            f"{key} needs a `path` to your vectors file (the platform downloads none)",
            hint="or `learn: word2vec` (or fasttext) to learn vectors from the train split's text",
        )
    for name in ("epochs", "window", "unit_spread"):
        if name in entry:
            raise cfg.error(f"{key}.{name}", f"{key}.{name} applies to learnt vectors only (`learn:`)")
    path = Path(as_str(cfg, f"{key}.path", entry["path"])).expanduser()
    spec = VectorSpec(
        path if path.is_absolute() else base / path,
        entry.get("format", "glove"),
        as_bool(cfg, f"{key}.trainable", entry.get("trainable", True)),
        entry.get("missing", "zero"),
    )
    for name, allowed in (("format", FORMATS), ("missing", MISSING)):
        if getattr(spec, name) not in allowed:
            raise cfg.error(
                f"{key}.{name}", f"{key}.{name} must be one of {list(allowed)}, not {getattr(spec, name)!r}"
            )
    return spec


@dataclass
class Vectors:
    """An embedding matrix for one vocabulary and how much of the data it covers."""

    matrix: torch.Tensor  # (V, E); row 0 (padding) is zero
    found: np.ndarray  # (V,) bool: the word has a vector in the file
    token_coverage: float  # share of train tokens whose word has a vector
    vocabulary_coverage: float  # share of vocabulary words (padding and OOV aside) that have one
    source: str

    @property
    def width(self) -> int:
        return int(self.matrix.shape[1])

    def describe(self) -> str:
        return (
            f"{self.source}: {self.width}-d, {self.token_coverage:.1%} of train tokens and "
            f"{self.vocabulary_coverage:.1%} of the vocabulary have a vector"
        )


def _lines(path: Path):
    """(line number, text) of a vectors file, decoded strictly line by line (the files are large)."""
    try:
        handle = gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(f"cannot open word vectors: {exc.strerror or exc}", path) from None
    with handle:
        try:
            for number, raw in enumerate(handle, start=1):
                try:
                    yield number, raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError:
                    decode(raw, f"{path}:{number}")  # raises with the bytes and a hint
        except (OSError, EOFError) as exc:  # a damaged .gz
            raise InputError(f"cannot read word vectors: {exc}", path) from None


def load_vectors(spec: VectorSpec, vocab, train_counts: np.ndarray, seed: int = 0) -> Vectors:
    """The embedding matrix of a Vocabulary from the vectors file; `train_counts[i]` = train tokens of word i."""
    import torch

    path = Path(spec.path)
    index = vocab.index
    matrix: np.ndarray | None = None
    exact = np.zeros(len(vocab), dtype=bool)  # filled by the word itself, not by its lower-case form
    width = None
    for number, line in _lines(path):
        word, _, rest = line.partition(" ")
        if not rest.strip():
            continue
        if number == 1 and len(line.split()) == 2 and all(f.isdigit() for f in line.split()):  # `count dim`
            if spec.format == "glove":
                raise InputError(
                    "the file starts with a `count dim` header: it is word2vec / fastText text",
                    path,
                    1,
                    hint="set `format: word2vec` (or fasttext)",
                )
            continue
        values = rest.split()
        if width is None:
            width = len(values)
            matrix = np.zeros((len(vocab), width), dtype=np.float32)
        if len(values) != width:
            raise InputError(f"vector has {len(values)} numbers, expected {width}", path, number)
        i = index.get(word)
        lower = i is None
        if lower:
            i = index.get(word.lower())
        if i is None or i <= OOV_ID or (lower and exact[i]):
            continue
        try:
            matrix[i] = np.asarray(values, dtype=np.float32)
        except ValueError:
            raise InputError("vector holds something that is not a number", path, number) from None
        exact[i] = not lower or exact[i]
    if matrix is None:
        raise InputError("no word vectors in the file", path)
    found = matrix.any(axis=1)
    if spec.missing == "random":
        rng = np.random.default_rng(seed)
        scale = float(matrix[found].std()) if found.any() else 0.0
        scale = scale if scale > 0 else 0.1  # the spread of the file's vectors, so new words look like them
        absent = ~found
        absent[0] = False  # padding stays zero
        matrix[absent] = rng.normal(0.0, scale, (int(absent.sum()), width)).astype(np.float32)
    words = slice(OOV_ID + 1, None)
    total = float(train_counts[words].sum())
    return Vectors(
        matrix=torch.from_numpy(matrix),
        found=found,
        token_coverage=float(train_counts[words][found[words]].sum()) / total if total else 0.0,
        vocabulary_coverage=float(found[words].mean()) if len(vocab) > OOV_ID + 1 else 0.0,
        source=str(path),
    )
