"""A dataset x primary task as tensors: word ids, labels, auxiliary targets, splits and dialogue positions.

Built once per partition from the talkturn table, its model inputs and the auxiliary targets; every
training run, the floor, the seed ensembles and prediction read the same rows."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from hanrock_core.base.metrics import selection_metric
from hanrock_core.preparation.auxiliary_target import AuxiliaryTargets
from hanrock_core.preparation.content_context import context_windows
from hanrock_core.preparation.vocabulary import MAX_WORDS, Vocabulary, build_vocabulary, encode


@dataclass
class TaskData:
    """Tensors of one dataset x primary task, row-aligned with the talkturn table."""

    words: torch.Tensor  # (n, T) word ids
    lengths: torch.Tensor  # (n,)
    dialogue_codes: np.ndarray  # (n,) int, for the dialogue sampler and windows
    turn_index: np.ndarray  # (n,)
    split: np.ndarray  # (n,) train / dev / test
    primary: torch.Tensor  # (n,) class index (-1 = missing) or value (NaN = missing)
    aux: torch.Tensor  # (n, N) targets: class index or value (NaN = missing)
    aux_kinds: tuple[str, ...]
    aux_names: tuple[str, ...]
    classes: list[str] | None
    vocab: Vocabulary
    utterance_ids: np.ndarray
    metric: str | None = None  # the selection metric (None: the paper's, MA or MAE)
    texts: np.ndarray | None = None  # (n,) the model inputs as text, for the bag-of-words floor
    vectors: torch.Tensor | None = None  # (V, E) pretrained word vectors of `vocab` (None: learnt from scratch)
    dialogues: np.ndarray | None = None  # (D,) the dialogue names `dialogue_codes` index
    min_count: int = 1  # the vocabulary keeps train words seen at least this often (the rest are unknown)
    speaker_codes: np.ndarray | None = None  # (n,) int, each talkturn's speaker (speaker-aware content context)

    def dialogue_names(self) -> np.ndarray:
        """(n,) each talkturn's dialogue name (its code as text where the names were not kept)."""
        if self.dialogues is None:
            return self.dialogue_codes.astype(str)
        return np.asarray(self.dialogues, dtype=str)[self.dialogue_codes]

    def train_token_counts(self) -> np.ndarray:
        """(V,) how often each word id occurs in the train split's talkturns."""
        rows = torch.from_numpy(np.flatnonzero(self.split == "train"))
        return torch.bincount(self.words[rows].flatten(), minlength=len(self.vocab)).numpy()

    @property
    def classification(self) -> bool:
        return self.classes is not None

    @property
    def selection(self) -> tuple[str, bool]:
        """The metric epochs and trials are chosen on, and whether higher is better."""
        return selection_metric(self.classification, self.metric)

    def windows(self, content_size: int, content_after: int = 0) -> torch.Tensor:
        """(n, content_size + 1 + content_after) each talkturn's content-context window (content_context.py)."""
        table = pd.DataFrame({"dialogue": self.dialogue_codes, "turn_index": self.turn_index})
        return torch.from_numpy(context_windows(table, content_size, content_after))

    def labelled(self, split: str) -> np.ndarray:
        present = (self.primary >= 0) if self.classification else ~torch.isnan(self.primary)
        return np.flatnonzero((self.split == split) & present.numpy())


def speaker_codes(table: pd.DataFrame) -> np.ndarray | None:
    """(n,) each talkturn's speaker as a number (equal numbers: the same speaker), None without a speaker column."""
    return pd.factorize(table["speaker"].astype(str))[0].astype(np.int64) if "speaker" in table else None


def build_task_data(
    table: pd.DataFrame,
    model_inputs: pd.Series,
    targets: AuxiliaryTargets,
    tasks: list[str] | None = None,
    max_words: int = MAX_WORDS,
    min_count: int = 1,
    metric: str | None = None,
) -> TaskData:
    """Join talkturns, their model inputs (a Series indexed by utterance id) and targets into tensors."""
    order = table.set_index("utterance_id", drop=False)
    tgt = targets.table.set_index("utterance_id").loc[order.index]
    inputs = model_inputs.loc[order.index]  # indexed by utterance id
    vocab = build_vocabulary(inputs, order["split"], min_count)
    words, lengths = encode(inputs, vocab, max_words)
    tasks = list(targets.tasks) if tasks is None else tasks
    classes = targets.classes
    if classes is not None:
        index = {c: i for i, c in enumerate(classes)}
        primary = torch.tensor([index.get(v, -1) if not pd.isna(v) else -1 for v in tgt["primary"]], dtype=torch.long)
    else:
        primary = torch.tensor(pd.to_numeric(tgt["primary"]).to_numpy(dtype=np.float32))
    aux_cols = []
    for task in tasks:
        col = tgt[task]
        if targets.kind[task] == "class":
            index = {c: i for i, c in enumerate(classes + ["no label"])}
            aux_cols.append(
                np.array([index.get(v, np.nan) if not pd.isna(v) else np.nan for v in col], dtype=np.float32)
            )
        else:
            aux_cols.append(pd.to_numeric(col).to_numpy(dtype=np.float32))
    aux = torch.tensor(np.stack(aux_cols, axis=1) if aux_cols else np.zeros((len(order), 0), np.float32))
    dialogue_codes, dialogues = pd.factorize(order["dialogue"])
    return TaskData(
        words=words,
        lengths=lengths,
        dialogue_codes=dialogue_codes,
        dialogues=np.asarray(dialogues, dtype=str),
        turn_index=order["turn_index"].to_numpy(dtype=np.int64),
        split=order["split"].to_numpy(dtype=str),
        primary=primary,
        aux=aux,
        aux_kinds=tuple(targets.kind[t] for t in tasks),
        aux_names=tuple(tasks),
        classes=classes,
        vocab=vocab,
        utterance_ids=order["utterance_id"].to_numpy(dtype=str),
        metric=metric,
        texts=inputs.to_numpy(dtype=str),
        min_count=min_count,
        speaker_codes=speaker_codes(order),
    )


def with_min_count(data: TaskData, min_count: int) -> TaskData:
    """The same data with a vocabulary of the train words seen at least `min_count` times (a profile's
    `min_count`); pretrained vectors of the old vocabulary are dropped (attach them after)."""
    if data.min_count == min_count:
        return data
    texts, split = pd.Series(data.texts), pd.Series(data.split)
    vocab = build_vocabulary(texts, split, min_count)
    words, lengths = encode(texts, vocab, max(1, int(data.words.shape[1])))
    return replace(data, words=words, lengths=lengths, vocab=vocab, min_count=min_count, vectors=None)


__all__ = ["TaskData", "build_task_data", "speaker_codes", "with_min_count"]
