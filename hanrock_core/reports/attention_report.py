"""Attention report (appendix A.5, Figure 5): what an MTL and an STL model attended to.

Two HAN-ROCK models with the same hyper-parameters and seed on one dataset.task: MTL (the model
the study kept for its all-families condition, read back, never retrained; without a study, one
trained with the profile's defaults) and STL (the same settings, auxiliary weights 0, trained
here: the study has no counterpart of it).  For a sample of test talkturns, attention.py reads
each model's combined word and talkturn attention and buckets it into none / low / medium /
high; attention_html.py renders the page.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hanrock_core.base.errors import InputError
from hanrock_core.base.home import ReportCheckpoints
from hanrock_core.base.io import atomic_path
from hanrock_core.learning.attention import LEVELS, WindowAttention, attention_level, window_attention, zscore
from hanrock_core.learning.checkpoint import load_checkpoint, save_checkpoint
from hanrock_core.learning.kept_model import TrainedModel, sha256_of
from hanrock_core.learning.model import HierarchicalModel
from hanrock_core.learning.task_data import TaskData
from hanrock_core.learning.train_config import TrainConfig
from hanrock_core.learning.training import make_model, train
from hanrock_core.preparation.mi_loss_weights import assign_loss_weights
from hanrock_core.preparation.vocabulary import tokenise
from hanrock_core.study.profiles import Profile

MODELS = ("mtl", "stl")


def pick_samples(data: TaskData, count: int, seed: int, min_context: int = 2) -> np.ndarray:
    """Up to `count` labelled test talkturns, spread over the classes (or the value range).

    Talkturns with at least `min_context` preceding talkturns in their dialogue come first, so
    the page shows context; the choice depends only on the data and the seed.
    """
    rows = data.labelled("test")
    if len(rows) == 0:
        raise InputError("the test split has no labelled talkturns: nothing to show in an attention report")
    rows = rows[data.turn_index[rows] >= min_context] if (data.turn_index[rows] >= min_context).any() else rows
    rng = np.random.default_rng(seed)
    truth = data.primary[torch.from_numpy(rows)].numpy()
    groups = truth.astype(int) if data.classification else np.digitize(truth, np.quantile(truth, [0.25, 0.5, 0.75]))
    buckets = [rng.permutation(rows[groups == g]) for g in np.unique(groups)]
    interleaved = [b[k] for k in range(max(map(len, buckets))) for b in buckets if k < len(b)]  # round robin
    picked = interleaved[:count]
    return np.array(sorted(picked, key=lambda r: (data.dialogue_codes[r], data.turn_index[r])), dtype=np.int64)


@dataclass
class ReportModels:
    """The MTL / STL pair: shared hyper-parameters, their loss weights, where they came from."""

    config: TrainConfig
    mtl_weights: np.ndarray  # (1 + N,) primary first
    source: str  # e.g. "kept model h1 iemocap.emotion aphf trial 2 ..." or "profile quick defaults"
    kept: TrainedModel | None = None  # the study's kept MTL model (None: train both here)

    @property
    def stl_weights(self) -> np.ndarray:
        return np.r_[1.0, np.zeros(len(self.mtl_weights) - 1)]


def models_from_kept(kept: TrainedModel, data: TaskData) -> ReportModels:
    """The pair of a kept study model: MTL is that model itself, STL its settings with auxiliary weights 0.

    The kept model's vocabulary must be the partition's (the same narratives); else the report refuses."""
    if kept.vocab.words != data.vocab.words or list(kept.card["auxiliary_tasks"]) != list(data.aux_names):
        raise InputError(
            f"the kept model {kept.name} was trained on other model inputs than the stored narratives "
            f"(vocabulary {len(kept.vocab)} vs {len(data.vocab)} words)",
            kept.directory,
            hint="re-run the study on these narratives, or materialise monah_narratives as they were",
        )
    weights = kept.card["loss_weights"]
    mtl = np.r_[float(weights.get("primary", 1.0)), [float(weights.get(t, 0.0)) for t in data.aux_names]]
    return ReportModels(kept.config, mtl, f"kept model {kept.name} (selected on dev; read back, not retrained)", kept)


def default_models(data: TaskData, mi: pd.Series, profile: Profile, seed: int) -> ReportModels:
    """When no study has run: the profile's capacity split, mid-range settings, MI-softmax weights."""
    p = profile.default_primary_units
    config = TrainConfig(
        architecture="han_rock",
        primary_units=p,
        aux_units=max(1, profile.capacity_total - p),
        learning_rate=2.0**-7,
        batch_size=32,
        content_size=min(5, int(profile.space.get("content_size", (1, 5))[1])),
        dropout=0.1,
        recurrent_dropout=0.1,
        seed=seed,
        **profile.fixed_training(),
    )
    weights = assign_loss_weights(
        0.75, "mi_softmax", mi.reindex(data.aux_names).fillna(0.0), list(data.aux_names), np.random.default_rng(seed)
    )
    return ReportModels(config, weights.to_numpy(), f"profile {profile.name} defaults (no study trials yet)")


def _fingerprint(data: TaskData, models: ReportModels) -> str:
    """What the checkpoints depend on: data, vocabulary, hyper-parameters, loss weights."""
    h = hashlib.sha256()
    h.update(json.dumps(asdict(models.config), sort_keys=True).encode())
    h.update(np.round(models.mtl_weights, 8).tobytes())
    h.update(str(models.kept.card["trial_started"] if models.kept is not None else "").encode())
    h.update("\n".join(data.vocab.words).encode())
    h.update(data.words.numpy().tobytes() + data.primary.numpy().tobytes() + data.aux.numpy().tobytes())
    if data.vectors is not None:
        h.update(data.vectors.numpy().tobytes())
    return h.hexdigest()


def trained_pair(
    data: TaskData, models: ReportModels, directory: Path, log: Callable[[str], None] = print
) -> dict[str, tuple[HierarchicalModel, dict]]:
    """The MTL and STL models with their test metrics: a kept MTL model as it is, the others trained
    once and then read from checkpoints.

    `directory/models.json` records the fingerprint and each checkpoint's SHA-256; a checkpoint
    whose bytes no longer match is reported (never silently used), a changed fingerprint retrains.
    """
    trained_here = tuple(name for name in MODELS if not (name == "mtl" and models.kept is not None))
    pair = {"mtl": (models.kept.network, models.kept.card["metrics"]["test"])} if models.kept is not None else {}
    files = ReportCheckpoints(directory)
    manifest_path = files.manifest
    fingerprint = _fingerprint(data, models)
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    if manifest.get("fingerprint") == fingerprint:
        log(f"reusing the {' / '.join(n.upper() for n in trained_here)} checkpoints in {directory}")
        pair.update(
            {
                name: (
                    _load(data, models.config, files.checkpoint(name), manifest[name]["sha256"]),
                    manifest[name]["test"],
                )
                for name in trained_here
            }
        )
        return pair
    entries = {"fingerprint": fingerprint, "source": models.source, "config": asdict(models.config)}
    for name in trained_here:
        weights = models.mtl_weights if name == "mtl" else models.stl_weights
        log(
            f"training the {name.upper()} model ({models.config.epochs} epochs, "
            f"loss weights {np.round(weights, 3).tolist()})"
        )
        result = train(
            data,
            models.config,
            weights,
            on_epoch=lambda e, r, tag=name.upper(): log(f"{tag} epoch {e}: train loss {r['train_loss']:.4f}"),
        )
        path = save_checkpoint(result.state_dict, files.checkpoint(name))
        entries[name] = {"sha256": sha256_of(path), "best_epoch": result.best_epoch, "test": result.test}
        pair[name] = (_load(data, models.config, path, entries[name]["sha256"]), result.test)
    with atomic_path(manifest_path) as tmp:
        tmp.write_text(json.dumps(entries, indent=1, default=float))
    return {name: pair[name] for name in MODELS}


def _load(data: TaskData, config: TrainConfig, path: Path, sha256: str) -> HierarchicalModel:
    """A model from its checkpoint, after checking the file is the one that was written."""
    if not path.exists():
        raise InputError(
            "checkpoint is missing", path, hint=f"delete {path.parent / 'models.json'} and re-run to retrain"
        )
    if sha256_of(path) != sha256:
        raise InputError(
            "checkpoint does not match the SHA-256 recorded when it was written: the file is damaged or was replaced",
            path,
            hint=f"delete {path.parent} and re-run to retrain both models",
        )
    model = make_model(data, config)
    model.load_state_dict(load_checkpoint(path))
    return model.eval()


@dataclass
class ReportExample:
    """One sample as the page shows it: the window's talkturns newest first, per model."""

    utterance_id: str
    dialogue: str
    truth: str
    predictions: dict[str, str]  # model -> predicted label
    turns: list[dict]  # newest first: offset, speaker, words, and per model level + word levels


def format_label(data: TaskData, value) -> str:
    return data.classes[int(value)] if data.classification else f"{float(value):.2f}"


def read_attention(
    data: TaskData, pair: dict[str, tuple[HierarchicalModel, dict]], rows: np.ndarray, content_size: int
) -> dict[str, list[WindowAttention]]:
    """Each model's combined attention on `rows` (one forward pass per model)."""
    return {
        name: window_attention(model, data, data.windows(content_size, model.shape.content_after), rows)
        for name, (model, _) in pair.items()
    }


def build_examples(
    data: TaskData,
    attention: dict[str, list[WindowAttention]],
    model_inputs: pd.Series,
    speakers: pd.Series,
    dialogues: pd.Series,
    max_words: int,
    shown: int = 6,
) -> list[ReportExample]:
    """What the page shows of each sample: levels per model; the inputs are indexed by utterance id."""
    examples = []
    for i, first in enumerate(attention[MODELS[0]]):
        turns = []
        for back, turn_row in enumerate(reversed(first.rows[-shown:])):
            uid = data.utterance_ids[turn_row]
            position = len(first.rows) - 1 - back  # index within the window
            entry = {
                "offset": first.offset(position),
                "speaker": str(speakers.loc[uid]),
                "words": tokenise(model_inputs.loc[uid])[:max_words],
                "models": {},
            }
            for name, samples in attention.items():
                sample = samples[i]
                entry["models"][name] = {
                    "level": attention_level(zscore(sample.talkturn)[position]),
                    "weight": float(sample.talkturn[position]),
                    "word_levels": [attention_level(z) for z in zscore(sample.words[position])],
                }
            turns.append(entry)
        uid = data.utterance_ids[first.row]
        examples.append(
            ReportExample(
                utterance_id=str(uid),
                dialogue=str(dialogues.loc[uid]),
                truth=format_label(data, data.primary[first.row].item()),
                predictions={name: format_label(data, samples[i].prediction) for name, samples in attention.items()},
                turns=turns,
            )
        )
    return examples


def mean_talkturn_attention(attention: dict[str, list[WindowAttention]], shown: int = 6) -> pd.DataFrame:
    """Mean combined talkturn attention by position (i, i-1, ..., then i+1, ... where windows hold
    following talkturns) over the samples, per model; `shown` positions back from i at most."""
    table = {}
    for name, samples in attention.items():
        sums: dict[int, float] = {}
        counts: dict[int, int] = {}
        for sample in samples:
            own = sample.own % len(sample.rows)
            for position, weight in enumerate(sample.talkturn):
                k = position - own  # 0 the current talkturn, < 0 before it, > 0 after it
                if k > -shown:
                    sums[k] = sums.get(k, 0.0) + float(weight)
                    counts[k] = counts.get(k, 0) + 1
        table[name.upper()] = {k: sums[k] / counts[k] for k in sums}
    offsets = sorted({k for means in table.values() for k in means}, key=lambda k: (k > 0, abs(k)))
    labels = ["i" if k == 0 else f"i{k:+d}" for k in offsets]
    return pd.DataFrame({m: [means.get(k, np.nan) for k in offsets] for m, means in table.items()}, index=labels)


__all__ = [
    "LEVELS",
    "ReportExample",
    "ReportModels",
    "WindowAttention",
    "attention_level",
    "build_examples",
    "default_models",
    "mean_talkturn_attention",
    "models_from_kept",
    "pick_samples",
    "read_attention",
    "trained_pair",
    "window_attention",
    "zscore",
]
