"""Trained models kept from a study, and their use on new talkturns.

During a condition's search every finished trial may leave the state of its chosen epoch in
`studies/<h>/<dataset.task>.states/<condition>-<trial>.pt`; a trial that a finished trial of the
same condition already beats on dev never writes one (it can never be selected).  When the
search is over, the selected trial of each condition (best dev value, complete or pruned, the
lower trial number on a tie: the significance step's rule) becomes a kept model and the other
states are deleted.  A kept model is a folder

    weights.pt       the state_dict (read back with torch.load(..., weights_only=True))
    vocabulary.txt   one word per line: line k holds the word of id k (0 <pad>, 1 <oov>)
    model.json       the card: shape, labels (or the regression range), how inputs are built
                     (narrative family, normalisation, content size), training config, loss
                     weights, metrics, provenance, platform version
    SHA256SUMS       SHA-256 of the three files (`sha256sum -c SHA256SUMS` checks them by hand)

`open_model` refuses a folder whose files changed since they were written; `predict_talkturns`
builds the narratives, word ids and content-context windows of new talkturns exactly as training
did and returns one row per talkturn.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import optuna
import pandas as pd
import torch

from . import __version__
from .attention import attention_level, window_attention, zscore
from .errors import InputError
from .io import atomic_directory
from .median_stopping import slot_of
from .metrics import classification_metrics, regression_metrics
from .model import HierarchicalModel, ModelShape
from .narrative import FAMILIES, build_narratives, normalise
from .training import (TaskData, TrainConfig, model_shape, primary_outputs, resolve_device, resolve_recurrence,
                       save_checkpoint, setup_kernels)
from .vocabulary import OOV_ID, PAD_ID, Vocabulary, encode

FORMAT = 1
FILES = ("weights.pt", "vocabulary.txt", "model.json")
SUMS = "SHA256SUMS"
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
Log = Callable[[str], None]


# --- during the search: the chosen epoch's state of every trial that may still be selected ------------

def trial_state_file(states_dir: Path, condition: str, trial: int) -> Path:
    return Path(states_dir) / f"{condition}-{trial}.pt"


def could_be_selected(study: optuna.Study, slot: int, dev_value: float, metric: str, higher_better: bool) -> bool:
    """False when a finished trial of the study is better on dev, or equal in a lower slot.

    Selection only ever gains competitors, so such a trial can never be chosen and its state is
    not worth writing; anything else is kept until the search is over."""
    for other in study.get_trials(deepcopy=False, states=FINISHED):
        value = other.user_attrs.get("dev", {}).get(metric)
        if slot_of(other) == slot or value is None:
            continue
        if (value > dev_value if higher_better else value < dev_value) or (value == dev_value and slot_of(other) < slot):
            return False
    return True


def keep_trial_state(states_dir: Path, condition: str, trial: int, state: dict) -> Path:
    """Write one trial's chosen-epoch state (atomically: a killed trial leaves none)."""
    return save_checkpoint(state, trial_state_file(states_dir, condition, trial))


# --- selection ---------------------------------------------------------------------------------------

def selected_trials(trials: pd.DataFrame) -> dict[str, int]:
    """Condition -> the trial chosen on dev: complete or pruned with a dev value, the best one, the
    lowest trial number on a tie (what the significance step and the paper's views pick)."""
    usable = trials[trials["state"].isin(["complete", "pruned"]) & trials["dev_value"].notna()]
    chosen = {}
    for condition, group in usable.groupby("condition", sort=False):
        lower_better = str(group["metric"].iloc[0]) == "mae"
        score = group["dev_value"].astype(float) * (1 if lower_better else -1)
        chosen[str(condition)] = int(group.assign(_score=score).sort_values(["_score", "trial"]).iloc[0]["trial"])
    return chosen


# --- writing a kept model ----------------------------------------------------------------------------

def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_bytes(directory: Path) -> int:
    """Bytes of the files under `directory` (0 when it does not exist)."""
    return sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())


def write_model(target: Path, weights: Path, card: dict, vocab: Vocabulary) -> Path:
    """Write a kept model folder from a trial's state file, replacing an older one only when complete."""
    with atomic_directory(target, replace=True) as tmp:
        shutil.copyfile(weights, tmp / "weights.pt")
        (tmp / "vocabulary.txt").write_text("\n".join(vocab.words) + "\n", encoding="utf-8")
        card = {**card, "files": {name: {"sha256": sha256_of(tmp / name), "bytes": (tmp / name).stat().st_size}
                                  for name in FILES[:2]}}
        (tmp / "model.json").write_text(json.dumps(card, indent=1, default=_plain) + "\n", encoding="utf-8")
        (tmp / SUMS).write_text("".join(f"{sha256_of(tmp / name)}  {name}\n" for name in FILES), encoding="utf-8")
    return Path(target)


def _plain(value):
    """JSON for numpy numbers and tuples inside a card."""
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def model_card(data: TaskData, config: dict, trial: optuna.trial.FrozenTrial, provenance: dict, narrative: tuple[str, str],
               shape: ModelShape, vectors: str | None) -> dict:
    """Everything needed to use the model on new text, and where it came from."""
    metric, higher_better = data.selection
    if data.classification:
        labels = {"kind": "class", "classes": list(data.classes)}
    else:
        train = data.primary[torch.from_numpy(data.labelled("train"))].numpy()
        labels = {"kind": "regression", "train_range": [float(train.min()), float(train.max())]}
    family, keep = narrative
    return {
        "format": FORMAT, "platform_version": __version__,
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **provenance, "trial": slot_of(trial), "state": "complete" if trial.state == FINISHED[0] else "pruned",
        "trial_started": trial.datetime_start.isoformat() if trial.datetime_start else None,
        "best_epoch": trial.user_attrs.get("best_epoch"), "epochs_run": len(trial.user_attrs.get("history", [])),
        "selection": {"metric": metric, "higher_is_better": higher_better},
        "metrics": {"dev": trial.user_attrs.get("dev", {}), "test": trial.user_attrs.get("test", {})},
        "shape": asdict(shape), "auxiliary_tasks": list(data.aux_names), "labels": labels,
        "inputs": {"narrative_family": family, "keep_punctuation": keep, "content_size": int(config["content_size"]),
                   "max_words": int(config["max_words"]), "vocabulary_size": len(data.vocab), "pad_id": PAD_ID,
                   "oov_id": OOV_ID, "word_vectors": vectors},
        "training": config, "loss_weights": trial.user_attrs.get("loss_weights", {}),
        "weight_scheme": trial.user_attrs.get("weight_scheme"),
    }


def read_card(directory: Path) -> dict | None:
    """The card of a kept model folder whose files are intact, else None (absent or changed)."""
    try:
        return open_card(directory)
    except InputError:
        return None


def keep_selected_models(data: TaskData, narrative: tuple[str, str], vectors: str | None, hypothesis: str,
                         dataset: str, task: str, trials: pd.DataFrame, studies: dict[str, optuna.Study],
                         states_dir: Path, models_dir: Path, log: Log, provenance: dict | None = None) -> pd.DataFrame:
    """After the search: the selected trial of each condition becomes a kept model; the other states go.

    `provenance` (the studies' identity and profile) goes on every card.  Returns one row per
    condition: its trial, what happened (kept, unchanged, missing), folder, bytes."""
    chosen = selected_trials(trials)
    rows = []
    for condition, study in studies.items():
        target = Path(models_dir) / hypothesis / f"{dataset}.{task}" / condition
        number = chosen.get(condition)
        status = "no finished trial"
        if number is not None:
            trial = next(t for t in study.get_trials(deepcopy=False, states=FINISHED) if slot_of(t) == number)
            started = trial.datetime_start.isoformat() if trial.datetime_start else None
            card = read_card(target)
            state = trial_state_file(states_dir, condition, number)
            if card and card.get("study") == study.study_name and card.get("trial") == number \
                    and card.get("trial_started") == started:
                status = "unchanged"
            elif state.exists():
                config = trial.user_attrs["config"]
                where = {"hypothesis": hypothesis, "dataset": dataset, "task": task, "condition": condition,
                         "study": study.study_name, **(provenance or {})}
                shape = model_shape(data, TrainConfig(**_known(config)))
                write_model(target, state, model_card(data, config, trial, where, narrative, shape, vectors), data.vocab)
                status = "kept"
            else:
                status = "missing"
                log(f"WARNING {hypothesis} {dataset}.{task} {condition}: the selected trial {number} left no state "
                    f"({state} is absent: it ran before this platform kept models, or the file was deleted); "
                    f"no model is kept for it -> delete {states_dir.parent / f'{dataset}.{task}.db'} and re-run "
                    "the study to train it again")
        removed = _remove_states(states_dir, condition)
        rows.append({"condition": condition, "trial": number, "status": status, "path": str(target),
                     "bytes": folder_bytes(target) if status in ("kept", "unchanged") else 0,
                     "states_removed": removed})
    kept = pd.DataFrame(rows)
    log(f"{hypothesis} {dataset}.{task}: kept models " + ", ".join(
        f"{r.condition} (trial {r.trial}, {r.status})" for r in kept.itertuples())
        + f"; {kept['bytes'].sum() / 1e6:.1f} MB under {Path(models_dir) / hypothesis / f'{dataset}.{task}'}")
    return kept


def _known(config: dict) -> dict:
    """The TrainConfig fields of a stored config (a card written by another version may hold more)."""
    names = {f.name for f in fields(TrainConfig)}
    return {k: v for k, v in config.items() if k in names}


def _remove_states(states_dir: Path, condition: str) -> int:
    """Delete every trial state of one condition (its search is over); returns how many."""
    removed = 0
    for path in Path(states_dir).glob("*.pt"):
        name, _, number = path.stem.rpartition("-")
        if name == condition and number.isdigit():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# --- reading a kept model ----------------------------------------------------------------------------

def open_card(directory: Path) -> dict:
    """The card of a kept model folder, after checking every file against SHA256SUMS."""
    directory = Path(directory)
    sums = directory / SUMS
    if not sums.exists():
        raise InputError(f"not a kept model folder: {SUMS} is missing", directory,
                         hint="give a folder under $HANROCK_HOME/models, e.g. models/h1/iemocap.emotion/aphf")
    recorded = {}
    for number, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), 1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise InputError("not a 'SHA-256  name' line", sums, number, hint="the file was edited: re-run the study")
        recorded[name] = digest
    for name in FILES:
        path = directory / name
        if name not in recorded:
            raise InputError(f"{SUMS} does not list {name}", sums, hint="the folder was edited: re-run the study")
        if not path.exists():
            raise InputError(f"{name} is missing from the kept model", path, hint="re-run the study to write it again")
        if sha256_of(path) != recorded[name]:
            raise InputError(f"{name} was changed since the model was written (its SHA-256 differs from {SUMS}); "
                             "a changed model is never used", path,
                             hint="restore the file, or re-run the study to write the model again")
    card = json.loads((directory / "model.json").read_text(encoding="utf-8"))
    if card.get("format") != FORMAT:
        raise InputError(f"model format {card.get('format')!r}; this platform reads format {FORMAT}",
                         directory / "model.json", hint=f"use the platform version that wrote it ({card.get('platform_version')})")
    return card


@dataclass
class TrainedModel:
    """A kept model ready to predict: its card, vocabulary and network (eval mode, on CPU)."""

    directory: Path
    card: dict
    vocab: Vocabulary
    network: HierarchicalModel

    @property
    def classes(self) -> list[str] | None:
        return self.card["labels"].get("classes")

    @property
    def config(self) -> TrainConfig:
        return TrainConfig(**_known(self.card["training"]))

    @property
    def name(self) -> str:
        c = self.card
        return f"{c['hypothesis']} {c['dataset']}.{c['task']} {c['condition']} trial {c['trial']}"


def open_model(directory: str | Path) -> TrainedModel:
    """A kept model folder, checked (SHA-256, vocabulary, labels, shapes) and loaded with weights_only=True."""
    directory = Path(directory)
    card = open_card(directory)
    vocab = Vocabulary(tuple((directory / "vocabulary.txt").read_text(encoding="utf-8").splitlines()))
    shape_fields = dict(card["shape"], aux_kinds=tuple(card["shape"]["aux_kinds"]))
    shape = ModelShape(**shape_fields)
    if len(vocab) != shape.vocab_size or vocab.words[:2] != ("<pad>", "<oov>"):
        raise InputError(f"the vocabulary has {len(vocab)} words (first {list(vocab.words[:2])}) but the model "
                         f"embeds {shape.vocab_size} (<pad>, <oov> first)", directory / "vocabulary.txt",
                         hint="the folder mixes files of two models: re-run the study")
    classes = card["labels"].get("classes")
    outputs = len(classes) if classes is not None else 1
    if outputs != shape.n_primary_outputs:
        raise InputError(f"the card names {outputs} primary outputs but the model has {shape.n_primary_outputs}",
                         directory / "model.json")
    network = HierarchicalModel(shape)
    try:
        state = torch.load(directory / "weights.pt", map_location="cpu", weights_only=True)
        network.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - an unreadable or mismatched state is reported, never used
        raise InputError(f"the weights do not load into the model the card describes ({type(exc).__name__}: "
                         f"{str(exc)[:300]})", directory / "weights.pt", hint="re-run the study to write the model again") from None
    return TrainedModel(directory, card, vocab, network.eval())


def resolve_model(name: str | Path, home: Path) -> Path:
    """A model folder given as a path, or as HYPOTHESIS/DATASET.TASK/CONDITION under $HANROCK_HOME/models."""
    path = Path(name)
    if path.exists():
        return path
    under_home = Path(home) / "models" / path
    if under_home.exists():
        return under_home
    kept = sorted(str(p.parent.relative_to(Path(home) / "models")) for p in (Path(home) / "models").glob(f"*/*/*/{SUMS}"))
    raise InputError("no such kept model", path, hint=f"kept models under {Path(home) / 'models'}: "
                     + (", ".join(kept[:12]) if kept else "none yet (run a study first)"))


# --- predicting on new talkturns ---------------------------------------------------------------------

def model_inputs(trained: TrainedModel, table: pd.DataFrame) -> pd.Series:
    """The normalised narratives of `table` built with the model's family and normalisation."""
    inputs = trained.card["inputs"]
    family = inputs["narrative_family"]
    if family not in FAMILIES:
        raise InputError(f"the model records narrative family {family!r}, not one of {FAMILIES}", trained.directory / "model.json")
    try:
        narratives = build_narratives(table, family)
    except InputError as exc:
        raise InputError(f"the model reads {family!r} narratives: {exc.problem}", exc.path,
                         hint="give talkturns with the features the model was trained with (hanrock load ... "
                              "with its --openface / --vokaturi files)") from None
    return narratives.map(lambda text: normalise(text, inputs["keep_punctuation"])).astype(str)


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
        raise InputError(f"{column} holds {values.iloc[first]!r} (utterance {table['utterance_id'].iloc[first]}), a label "
                         f"the model does not know; its classes: {classes}",
                         hint="predict talkturns labelled with the model's classes, or drop the label column")
    return torch.tensor([index[v] if not pd.isna(v) else -1 for v in values], dtype=torch.long)


def task_data(trained: TrainedModel, table: pd.DataFrame, inputs: pd.Series) -> TaskData:
    """Word ids of the model inputs (unseen words -> the out-of-vocabulary id, as in training), dialogues and labels."""
    words, lengths = encode(pd.Series(inputs.to_numpy()), trained.vocab, trained.card["inputs"]["max_words"])
    split = table["split"].astype(str).to_numpy() if "split" in table.columns else np.full(len(table), "new")
    return TaskData(words=words, lengths=lengths, dialogue_codes=pd.factorize(table["dialogue"])[0],
                    turn_index=table["turn_index"].to_numpy(dtype=np.int64), split=split, primary=_truth(trained, table),
                    aux=torch.zeros((len(table), 0)), aux_kinds=(), aux_names=(), classes=trained.classes,
                    vocab=trained.vocab, utterance_ids=table["utterance_id"].astype(str).to_numpy(),
                    metric=trained.card["selection"]["metric"])


def ordered_talkturns(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """The table's talkturns in dialogue order (as every reader writes them); the columns prediction needs."""
    needed = ["utterance_id", "dialogue", "turn_index", "speaker", "speaker_noun", "text"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InputError(f"not a talkturn table: columns {missing} are missing", source,
                         hint="write one with `hanrock load ... --out talkturns.parquet`")
    if table["utterance_id"].duplicated().any():
        raise InputError(f"utterance id {table.loc[table['utterance_id'].duplicated(), 'utterance_id'].iloc[0]!r} "
                         "appears twice", source)
    return table.sort_values(["dialogue", "turn_index"], kind="stable").reset_index(drop=True)


def predict_talkturns(trained: TrainedModel, table: pd.DataFrame, attention: bool = False, split: str | None = None,
                      device: str = "cpu", source: str = "<input>") -> pd.DataFrame:
    """One row per talkturn (of `split`, or all): id, prediction, class probabilities or the value,
    the label when the table has it, and with `attention` the word and talkturn levels of A.5."""
    table = ordered_talkturns(table, source)
    inputs = model_inputs(trained, table)  # (n,) normalised narratives, built once
    data = task_data(trained, table, inputs)
    rows = np.arange(len(table)) if split is None else np.flatnonzero(data.split == split)
    if len(rows) == 0:
        raise InputError(f"no talkturns to predict (split {split!r} has none)" if split else "no talkturns to predict", source)
    config = trained.config
    where = resolve_device(device)
    setup_kernels(config, where)  # the kernels training used: the same arithmetic
    network = trained.network.to(where).use_recurrence(resolve_recurrence(config.gru, where))
    windows = data.windows(trained.card["inputs"]["content_size"])
    outputs = primary_outputs(network, data, windows, rows, config.eval_batch_size, where).double()  # (n, K)
    out = table.loc[rows, [c for c in ("utterance_id", "dialogue", "turn_index", "speaker", "split") if c in table]]
    out = out.reset_index(drop=True)
    classes = trained.classes
    truth = data.primary[torch.from_numpy(rows)].numpy()
    if classes is not None:
        probabilities = torch.softmax(outputs, dim=-1).numpy()
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
            samples += window_attention(network, data, windows, rows[start: start + config.eval_batch_size], where)
        tokens = inputs.str.split()
        out["window"] = [[data.utterance_ids[r] for r in s.rows] for s in samples]
        out["talkturn_attention"] = [[attention_level(z) for z in zscore(s.talkturn)] for s in samples]
        out["words"] = [list(tokens.iloc[s.row][: len(s.words[-1])]) for s in samples]
        out["word_attention"] = [[attention_level(z) for z in zscore(s.words[-1])] for s in samples]
    return out


def scores(trained: TrainedModel, predictions: pd.DataFrame) -> pd.DataFrame:
    """The model's metrics per split on the talkturns whose label the table had (empty: none)."""
    rows = []
    labelled = predictions[predictions["truth"].notna()]
    for part, group in labelled.groupby("split" if "split" in labelled else np.zeros(len(labelled)), sort=False):
        if trained.classes is not None:
            index = {c: i for i, c in enumerate(trained.classes)}
            values = classification_metrics(group["truth"].map(index).to_numpy(int), group["prediction"].map(index).to_numpy(int),
                                             trained.classes)
        else:
            values = regression_metrics(group["truth"].to_numpy(float), group["prediction"].to_numpy(float))
        rows.append({"split": part, "talkturns": len(group), **{k: v for k, v in values.items() if not k.startswith("f1_")}})
    return pd.DataFrame(rows)


__all__ = ["TrainedModel", "could_be_selected", "keep_selected_models", "keep_trial_state", "open_card", "open_model",
           "predict_talkturns", "resolve_model", "scores", "selected_trials", "trial_state_file"]
