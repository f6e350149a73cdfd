"""A kept model: the folder a study leaves for each condition's selected trial, and reading it back.

    weights.pt       the state_dict (read back with torch.load(..., weights_only=True))
    vocabulary.txt   one word per line: line k holds the word of id k (0 <pad>, 1 <oov>)
    model.json       the card: shape, labels (or the regression range), how inputs are built
                     (narrative family, normalisation, content size), training config, loss
                     weights, metrics, provenance (study identity, profile), platform version
    seed-1.pt ...    the seed replicates' states, when the study trained any: the seed ensemble
                     (`hanrock predict --ensemble` averages their outputs with weights.pt's)
    SHA256SUMS       SHA-256 of every other file (`sha256sum -c SHA256SUMS` checks them by hand)

`open_model` refuses a folder whose files changed since they were written.  Which trial becomes
a kept model is selection.py's business; using one on new talkturns is prediction.py's.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from hanrock_core import __version__
from hanrock_core.base.errors import InputError
from hanrock_core.base.home import Home, ModelFiles
from hanrock_core.base.io import atomic_directory
from hanrock_core.learning.model import HierarchicalModel, ModelShape
from hanrock_core.learning.task_data import TaskData
from hanrock_core.learning.train_config import TrainConfig
from hanrock_core.preparation.narrative import NarrativeRecipe, SpeakerNorms
from hanrock_core.preparation.vocabulary import OOV_ID, PAD_ID, Vocabulary

FORMAT = 1

FILES = ModelFiles.SUMMED
SUMS = ModelFiles.SUMS


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_bytes(directory: Path) -> int:
    """Bytes of the files under `directory` (0 when it does not exist)."""
    return sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())


def write_model(
    target: Path, weights: Path, card: dict, vocab: Vocabulary, seed_weights: tuple[Path, ...] = ()
) -> Path:
    """Write a kept model folder from a trial's state file (and its seed replicates' states, the seed
    ensemble), replacing an older one only when complete."""
    with atomic_directory(target, replace=True) as tmp:
        files = ModelFiles(tmp)
        shutil.copyfile(weights, files.weights)
        seeds = [ModelFiles.seed_weights_name(k) for k in range(1, len(seed_weights) + 1)]
        for source, name in zip(seed_weights, seeds, strict=True):
            shutil.copyfile(source, files.file(name))
        files.vocabulary.write_text("\n".join(vocab.words) + "\n", encoding="utf-8")
        card = {
            **card,
            "files": {
                name: {"sha256": sha256_of(files.file(name)), "bytes": files.file(name).stat().st_size}
                for name in (*FILES[:2], *seeds)
            },
            "ensemble": {"seeds": 1 + len(seeds), "files": [ModelFiles.WEIGHTS, *seeds]},
        }
        files.card.write_text(json.dumps(card, indent=1, default=_plain) + "\n", encoding="utf-8")
        summed = (*FILES, *seeds)
        files.sums.write_text("".join(f"{sha256_of(files.file(name))}  {name}\n" for name in summed), encoding="utf-8")
    return Path(target)


def ensemble_seeds(card: dict | None) -> int:
    """How many seeds a kept model's ensemble holds (1: the selected trial alone, or a card before ensembles)."""
    return int(((card or {}).get("ensemble") or {}).get("seeds", 1))


def _plain(value):
    """JSON for numpy numbers and tuples inside a card."""
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def model_card(
    data: TaskData,
    trial: dict,
    provenance: dict,
    narrative: NarrativeRecipe,
    norms: SpeakerNorms | None,
    shape: ModelShape,
    vectors: str | None,
) -> dict:
    """Everything needed to use the model on new text, and where it came from: `norms` are the speaker norms
    its narratives' prosody words were measured against (None: its narratives have no prosody words).

    `trial` is the selected trial's record (keeping.trial_record): slot, state, start time,
    epochs, metrics, config, loss weights."""
    metric, higher_better = data.selection
    if data.classification:
        labels = {"kind": "class", "classes": list(data.classes)}
    else:
        train = data.primary[torch.from_numpy(data.labelled("train"))].numpy()
        labels = {"kind": "regression", "train_range": [float(train.min()), float(train.max())]}
    family, keep = narrative.family, narrative.keep_punctuation
    config = trial["config"]
    return {
        "format": FORMAT,
        "platform_version": __version__,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **provenance,
        "trial": trial["slot"],
        "state": trial["state"],
        "trial_started": trial["started"],
        "best_epoch": trial["best_epoch"],
        "epochs_run": trial["epochs_run"],
        "selection": {"metric": metric, "higher_is_better": higher_better},
        "metrics": {"dev": trial["dev"], "test": trial["test"]},
        "shape": asdict(shape),
        "auxiliary_tasks": list(data.aux_names),
        "labels": labels,
        "inputs": {
            "narrative_family": family,
            "keep_punctuation": keep,
            "speaker_norms": norms.to_card() if norms is not None else None,
            "content_size": int(config["content_size"]),
            "max_words": int(config["max_words"]),
            "vocabulary_size": len(data.vocab),
            "pad_id": PAD_ID,
            "oov_id": OOV_ID,
            "word_vectors": vectors,
        },
        "training": config,
        "loss_weights": trial["loss_weights"],
        "weight_scheme": trial["weight_scheme"],
    }


def card_row(card: dict) -> dict:
    """A kept model's card as one row of a table: trial, epoch, metrics, shape, inputs, weights' hash."""
    metric, shape, inputs = card["selection"]["metric"], card["shape"], card["inputs"]
    return {
        "trial": card["trial"],
        "state": card["state"],
        "epoch": card["best_epoch"],
        f"dev {metric}": round(card["metrics"]["dev"].get(metric, float("nan")), 4),
        f"test {metric}": round(card["metrics"]["test"].get(metric, float("nan")), 4),
        "architecture": shape["architecture"],
        "P": shape["primary_units"],
        "A": shape["aux_units"],
        "content size": inputs["content_size"],
        "vocabulary": inputs["vocabulary_size"],
        "narratives": inputs["narrative_family"],
        "weights sha256": card["files"][ModelFiles.WEIGHTS]["sha256"][:16],
    }


def card_if_intact(directory: Path) -> dict | None:
    """The card of a kept model folder whose files are intact, else None (absent or changed)."""
    try:
        return open_card(directory)
    except InputError:
        return None


def training_config_fields(config: dict) -> dict:
    """The TrainConfig fields of a stored config (a card written by another version may hold more)."""
    names = {f.name for f in fields(TrainConfig)}
    return {k: v for k, v in config.items() if k in names}


def open_card(directory: Path) -> dict:
    """The card of a kept model folder, after checking every file against SHA256SUMS."""
    directory = Path(directory)
    sums = ModelFiles(directory).sums
    if not sums.exists():
        raise InputError(
            f"not a kept model folder: {SUMS} is missing",
            directory,
            hint="give a folder under $HANROCK_HOME/models, e.g. models/h1/iemocap.emotion/aphf",
        )
    recorded = {}
    for number, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), 1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise InputError("not a 'SHA-256  name' line", sums, number, hint="the file was edited: re-run the study")
        recorded[name] = digest
    seeds = sorted(name for name in recorded if name.startswith("seed-"))
    for name in (*FILES, *seeds):
        path = directory / name
        if name not in recorded:
            raise InputError(f"{SUMS} does not list {name}", sums, hint="the folder was edited: re-run the study")
        if not path.exists():
            raise InputError(f"{name} is missing from the kept model", path, hint="re-run the study to write it again")
        if sha256_of(path) != recorded[name]:
            raise InputError(
                f"{name} was changed since the model was written (its SHA-256 differs from {SUMS}); "
                "a changed model is never used",
                path,
                hint="restore the file, or re-run the study to write the model again",
            )
    card = json.loads(ModelFiles(directory).card.read_text(encoding="utf-8"))
    listed = (card.get("ensemble") or {}).get("files", [ModelFiles.WEIGHTS])
    if sorted(set(listed) - {ModelFiles.WEIGHTS}) != seeds:
        raise InputError(
            f"the card's seed ensemble {listed} and {SUMS}'s seed files {seeds} differ",
            ModelFiles(directory).card,
            hint="the folder was edited: re-run the study to write the model again",
        )
    if card.get("format") != FORMAT:
        raise InputError(
            f"model format {card.get('format')!r}; this platform reads format {FORMAT}",
            ModelFiles(directory).card,
            hint=f"use the platform version that wrote it ({card.get('platform_version')})",
        )
    return card


@dataclass
class TrainedModel:
    """A kept model ready to predict: its card, vocabulary and network (eval mode, on CPU)."""

    directory: Path
    card: dict
    vocab: Vocabulary
    network: HierarchicalModel
    members: tuple[HierarchicalModel, ...] = ()  # the seed ensemble (network first), when opened for it

    @property
    def classes(self) -> list[str] | None:
        return self.card["labels"].get("classes")

    @property
    def config(self) -> TrainConfig:
        return TrainConfig(**training_config_fields(self.card["training"]))

    @property
    def name(self) -> str:
        c = self.card
        return f"{c['hypothesis']} {c['dataset']}.{c['task']} {c['condition']} trial {c['trial']}"


def open_model(directory: str | Path, ensemble: bool = False) -> TrainedModel:
    """A kept model folder, checked (SHA-256, vocabulary, labels, shapes) and loaded with weights_only=True;
    `ensemble`: every seed's network too (refused when the folder holds one seed only)."""
    directory = Path(directory)
    card = open_card(directory)
    vocab = Vocabulary(tuple(ModelFiles(directory).vocabulary.read_text(encoding="utf-8").splitlines()))
    shape_fields = dict(card["shape"], aux_kinds=tuple(card["shape"]["aux_kinds"]))
    shape = ModelShape(**shape_fields)
    if len(vocab) != shape.vocab_size or vocab.words[:2] != ("<pad>", "<oov>"):
        raise InputError(
            f"the vocabulary has {len(vocab)} words (first {list(vocab.words[:2])}) but the model "
            f"embeds {shape.vocab_size} (<pad>, <oov> first)",
            ModelFiles(directory).vocabulary,
            hint="the folder mixes files of two models: re-run the study",
        )
    classes = card["labels"].get("classes")
    outputs = len(classes) if classes is not None else 1
    if outputs != shape.n_primary_outputs:
        raise InputError(
            f"the card names {outputs} primary outputs but the model has {shape.n_primary_outputs}",
            ModelFiles(directory).card,
        )
    network = _load_network(shape, ModelFiles(directory).weights)
    members: tuple[HierarchicalModel, ...] = ()
    if ensemble:
        names = card.get("ensemble", {}).get("files", [ModelFiles.WEIGHTS])
        if len(names) < 2:
            raise InputError(
                "this kept model has no seed ensemble (its study trained no seed replicates)",
                directory,
                hint="leave out --ensemble, or re-run the study with a profile that has replicates >= 1",
            )
        members = (network, *(_load_network(shape, ModelFiles(directory).file(n)) for n in names[1:]))
    return TrainedModel(directory, card, vocab, network, members)


def _load_network(shape: ModelShape, weights: Path) -> HierarchicalModel:
    """One network of the card's shape from a state file (weights_only=True), in eval mode on CPU."""
    network = HierarchicalModel(shape)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - an unreadable state is reported, never used
        raise InputError(
            f"{Path(weights).name} is not a complete PyTorch state file ({Path(weights).stat().st_size:,} bytes; "
            f"{type(exc).__name__}: {str(exc)[:200]}): it was cut short or damaged before the model was kept",
            weights,
            hint="re-run the study to write the model again",
        ) from None
    try:
        network.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - a state of another shape is reported, never used
        raise InputError(
            f"the weights do not load into the model the card describes ({type(exc).__name__}: {str(exc)[:300]})",
            weights,
            hint="the folder mixes files of two models: re-run the study to write the model again",
        ) from None
    return network.eval()


def resolve_model(name: str | Path, home: Home) -> Path:
    """A model folder given as a path, or as HYPOTHESIS/DATASET.TASK/CONDITION under $HANROCK_HOME/models."""
    path = Path(name)
    if path.exists():
        return path
    under_home = home.model_named(name)
    if under_home.exists():
        return under_home
    kept = sorted(str(p.parent.relative_to(home.models)) for p in home.models.glob(f"*/*/*/{SUMS}"))
    raise InputError(
        "no such kept model",
        path,
        hint=f"kept models under {home.models}: " + (", ".join(kept[:12]) if kept else "none yet (run a study first)"),
    )


__all__ = [
    "FILES",
    "SUMS",
    "TrainedModel",
    "card_if_intact",
    "ensemble_seeds",
    "folder_bytes",
    "model_card",
    "open_card",
    "open_model",
    "resolve_model",
    "sha256_of",
    "training_config_fields",
    "write_model",
    "card_row",
]
