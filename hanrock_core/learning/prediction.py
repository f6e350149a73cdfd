"""A kept model on new talkturns: the narratives, word ids and content-context windows built as
training built them, then one row per talkturn with its prediction (and attention levels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from hanrock_core.base.errors import InputError
from hanrock_core.base.home import ModelFiles
from hanrock_core.base.metrics import classification_metrics, regression_metrics
from hanrock_core.base.notices import Notices, ensure
from hanrock_core.learning.attention import attention_level, window_attention, zscore
from hanrock_core.learning.device import resolve_device, resolve_recurrence, setup_kernels
from hanrock_core.learning.epoch_outputs import primary_outputs
from hanrock_core.learning.kept_model import TrainedModel
from hanrock_core.learning.task_data import TaskData, speaker_codes
from hanrock_core.preparation.narrative import NARRATIVE_FAMILIES, NarrativeRecipe, SpeakerNorms, narratives_and_inputs
from hanrock_core.preparation.vocabulary import encode


def model_inputs(trained: TrainedModel, table: pd.DataFrame, notices: Notices | None = None) -> pd.Series:
    """The normalised narratives of `table` built with the model's family, normalisation and speaker norms
    (the study's: the same talkturns give the same inputs however many of them are handed over)."""
    inputs = trained.card["inputs"]
    family = inputs["narrative_family"]
    if family not in NARRATIVE_FAMILIES:
        raise InputError(
            f"the model records narrative family {family!r}, not one of {NARRATIVE_FAMILIES}",
            ModelFiles(trained.directory).card,
        )
    norms = _speaker_norms(trained, table, ensure(notices)) if "p" in family else None
    try:
        _, model_input = narratives_and_inputs(table, NarrativeRecipe(family, inputs["keep_punctuation"]), norms)
    except InputError as exc:
        raise InputError(
            f"the model reads {family!r} narratives: {exc.problem}",
            exc.path,
            hint="give talkturns with the features the model was trained with (hanrock load ... "
            "with its --openface / --vokaturi files)",
        ) from None
    return model_input


def _speaker_norms(trained: TrainedModel, table: pd.DataFrame, notices: Notices) -> SpeakerNorms | None:
    """The speaker norms the model's card carries, with a notice for speakers the study never saw (measured
    against every study talkturn's pooled norm); None for a card kept before norms (the input's own, said)."""
    recorded = trained.card["inputs"].get("speaker_norms")
    if recorded is None:
        notices.warn(
            "this model was kept before kept models carried their speaker norms: its tone, speed and delay words "
            "are measured against the talkturns given here, which can differ from the study's words "
            "(run the study again to keep a model that carries them)",
            ModelFiles(trained.directory).card,
        )
        return None
    norms = SpeakerNorms.from_card(recorded)
    unseen = norms.unseen(table["speaker"])
    if unseen:
        count = int(table["speaker"].astype(str).isin(unseen).sum())
        notices.warn(
            f"{count} talkturn(s) by {len(unseen)} speaker(s) the study never saw "
            f"({', '.join(map(repr, unseen[:5]))}{', ...' if len(unseen) > 5 else ''}): their tone, speed and delay "
            "words are measured against every study talkturn's pooled mean and sd instead of the speaker's own"
        )
    return norms


def _truth(trained: TrainedModel, table: pd.DataFrame) -> torch.Tensor:
    """The primary label of each talkturn when the table has the model's label column (else missing)."""
    column = f"label_{trained.card['task']}"
    classes = trained.classes
    n = len(table)
    if column not in table.columns:
        return torch.full((n,), -1, dtype=torch.long) if classes is not None else torch.full((n,), float("nan"))
    values = table[column]
    if classes is None:
        return torch.tensor(pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float32))
    index = {c: i for i, c in enumerate(classes)}
    unknown = values.notna() & ~values.astype("string").isin(classes)
    if unknown.any():
        first = int(np.flatnonzero(unknown.to_numpy())[0])
        raise InputError(
            f"{column} holds {values.iloc[first]!r} (utterance {table['utterance_id'].iloc[first]}), a label "
            f"the model does not know; its classes: {classes}",
            hint="predict talkturns labelled with the model's classes, or drop the label column",
        )
    return torch.tensor([index[v] if not pd.isna(v) else -1 for v in values], dtype=torch.long)


def task_data(trained: TrainedModel, table: pd.DataFrame, inputs: pd.Series) -> TaskData:
    """Word ids of the model inputs (unseen words -> the out-of-vocabulary id, as in training), dialogues and labels."""
    words, lengths = encode(pd.Series(inputs.to_numpy()), trained.vocab, trained.card["inputs"]["max_words"])
    split = table["split"].astype(str).to_numpy() if "split" in table.columns else np.full(len(table), "new")
    return TaskData(
        words=words,
        lengths=lengths,
        dialogue_codes=pd.factorize(table["dialogue"])[0],
        turn_index=table["turn_index"].to_numpy(dtype=np.int64),
        split=split,
        primary=_truth(trained, table),
        aux=torch.zeros((len(table), 0)),
        aux_kinds=(),
        aux_names=(),
        classes=trained.classes,
        vocab=trained.vocab,
        utterance_ids=table["utterance_id"].astype(str).to_numpy(),
        metric=trained.card["selection"]["metric"],
        speaker_codes=speaker_codes(table),
    )


def ordered_talkturns(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """The table's talkturns in dialogue order (as every reader writes them); the columns prediction needs."""
    needed = ["utterance_id", "dialogue", "turn_index", "speaker", "speaker_noun", "text"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InputError(
            f"not a talkturn table: columns {missing} are missing",
            source,
            hint="write one with `hanrock load ... --out talkturns.parquet`",
        )
    if table["utterance_id"].duplicated().any():
        raise InputError(
            f"utterance id {table.loc[table['utterance_id'].duplicated(), 'utterance_id'].iloc[0]!r} appears twice",
            source,
        )
    return table.sort_values(["dialogue", "turn_index"], kind="stable").reset_index(drop=True)


def predict_talkturns(
    trained: TrainedModel,
    table: pd.DataFrame,
    attention: bool = False,
    split: str | None = None,
    device: str = "cpu",
    source: str = "<input>",
    notices: Notices | None = None,
) -> pd.DataFrame:
    """One row per talkturn (of `split`, or all): id, prediction, class probabilities or the value,
    the label when the table has it, and with `attention` the word and talkturn levels of A.5."""
    table = ordered_talkturns(table, source)
    inputs = model_inputs(trained, table, notices)  # (n,) normalised narratives, built once
    data = task_data(trained, table, inputs)
    rows = np.arange(len(table)) if split is None else np.flatnonzero(data.split == split)
    if len(rows) == 0:
        raise InputError(
            f"no talkturns to predict (split {split!r} has none)" if split else "no talkturns to predict", source
        )
    config = trained.config
    where = resolve_device(device)
    setup_kernels(config, where)  # the kernels training used: the same arithmetic
    network = trained.network.to(where).use_recurrence(resolve_recurrence(config.gru, where))
    windows = data.windows(trained.card["inputs"]["content_size"], trained.network.shape.content_after)
    classes = trained.classes
    if trained.members:  # the seed ensemble: its seeds' probabilities (or values) averaged, as the study did
        outputs = ensemble_outputs(trained, data, windows, rows, where, classes is not None)  # (n, K)
    else:
        outputs = primary_outputs(network, data, windows, rows, config.eval_batch_size, where).double()  # (n, K)
    out = table.loc[rows, [c for c in ("utterance_id", "dialogue", "turn_index", "speaker", "split") if c in table]]
    out = out.reset_index(drop=True)
    truth = data.primary[torch.from_numpy(rows)].numpy()
    if classes is not None:
        probabilities = (outputs if trained.members else torch.softmax(outputs, dim=-1)).numpy()
        out["truth"] = [classes[t] if t >= 0 else None for t in truth]
        out["prediction"] = [classes[k] for k in outputs.argmax(-1).numpy()]
        for k, name in enumerate(classes):
            out[f"probability_{name}"] = probabilities[:, k]
    else:
        out["truth"] = truth.astype(float)
        out["prediction"] = outputs[:, 0].numpy()
    if attention:
        samples = []
        for start in range(0, len(rows), config.eval_batch_size):
            samples += window_attention(network, data, windows, rows[start : start + config.eval_batch_size], where)
        tokens = inputs.str.split()
        out["window"] = [[data.utterance_ids[r] for r in s.rows] for s in samples]
        out["talkturn_attention"] = [[attention_level(z) for z in zscore(s.talkturn)] for s in samples]
        out["words"] = [list(tokens.iloc[s.row][: len(s.words[-1])]) for s in samples]
        out["word_attention"] = [[attention_level(z) for z in zscore(s.words[-1])] for s in samples]
    return out


def ensemble_outputs(trained: TrainedModel, data: TaskData, windows, rows: np.ndarray, where, classification: bool):
    """(n, K) mean over the seed ensemble's networks of each talkturn's class probabilities (softmax in
    float32, as training stores them) or value."""
    config = trained.config
    total = None
    for member in trained.members:
        member = member.to(where).use_recurrence(resolve_recurrence(config.gru, where))
        out = primary_outputs(member, data, windows, rows, config.eval_batch_size, where)  # (n, K) float32
        values = (torch.softmax(out, dim=-1) if classification else out).double()
        total = values if total is None else total + values
    return total / len(trained.members)


def scores(trained: TrainedModel, predictions: pd.DataFrame) -> pd.DataFrame:
    """The model's metrics per split on the talkturns whose label the table had (empty: none)."""
    rows = []
    labelled = predictions[predictions["truth"].notna()]
    for part, group in labelled.groupby("split" if "split" in labelled else np.zeros(len(labelled)), sort=False):
        if trained.classes is not None:
            index = {c: i for i, c in enumerate(trained.classes)}
            values = classification_metrics(
                group["truth"].map(index).to_numpy(int), group["prediction"].map(index).to_numpy(int), trained.classes
            )
        else:
            values = regression_metrics(group["truth"].to_numpy(float), group["prediction"].to_numpy(float))
        rows.append(
            {"split": part, "talkturns": len(group), **{k: v for k, v in values.items() if not k.startswith("f1_")}}
        )
    return pd.DataFrame(rows)


__all__ = ["model_inputs", "ordered_talkturns", "predict_talkturns", "scores", "task_data"]
