"""Training engine: batches that share talkturns, masked weighted losses, per-epoch dev/test metrics.

The optimiser is SGD with momentum 0.9 and gradient-norm clipping at 1.0 (the authors' choice)
or Adam; the learning rate is constant (the authors') or scheduled (warm-up, cosine decay, halving
on a plateau); training stops after `epochs`, when dev has not improved for `patience` epochs, or
when the callback says so (the search's median pruning).  The epoch is chosen on dev and its state
kept.  docs/training.md explains the batch samplers and the schedules.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from hanrock_core.base.deployment import read_deployment
from hanrock_core.base.errors import InputError
from hanrock_core.base.io import atomic_path
from hanrock_core.base.metrics import classification_metrics, regression_metrics, selection_metric
from hanrock_core.learning.kernels import compile_kernels
from hanrock_core.learning.loss_weighting import Weighting, make_weighting
from hanrock_core.learning.model import ARCHITECTURES, HierarchicalModel, ModelShape
from hanrock_core.learning.search_space import CHOICES, TRAINING_DEFAULTS, outside
from hanrock_core.preparation.auxiliary_target import AuxiliaryTargets
from hanrock_core.preparation.content_context import context_windows
from hanrock_core.preparation.vocabulary import MAX_WORDS, Vocabulary, build_vocabulary, encode

SAMPLERS = CHOICES["sampler"]
CLASS_WEIGHTS = CHOICES["class_weights"]
OPTIMISERS = CHOICES["optimizer"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: the trial stops, the study goes on."""


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run (Table 6 names; see docs/training.md)."""

    architecture: str = "han_rock"
    primary_units: int = 256  # P
    aux_units: int = 1  # A
    capacity_total: int | None = None  # when set, P + A must equal it (the paper: 257)
    embedding_dim: int = TRAINING_DEFAULTS["embedding_dim"]
    learning_rate: float = 2.0**-7
    batch_size: int = 43
    content_size: int = 18
    l2: float = 0.0
    dropout: float = 0.1
    recurrent_dropout: float = 0.1
    optimizer: str = TRAINING_DEFAULTS["optimizer"]
    momentum: float = 0.9
    clip_norm: float = 1.0
    epochs: int = TRAINING_DEFAULTS["epochs"]
    sampler: str = TRAINING_DEFAULTS["sampler"]
    seed: int = 0
    device: str = "auto"
    max_words: int = MAX_WORDS
    eval_batch_size: int = 256
    # torch.compile the attention kernel: auto (on CPU when it works), on, off
    compile: str = TRAINING_DEFAULTS["compile"]
    embedding_trainable: bool = True  # pretrained vectors are fine-tuned (the authors'); False freezes them
    # primary cross-entropy: none (the paper) or balanced (n / (K n_c) per class)
    class_weights: str = TRAINING_DEFAULTS["class_weights"]
    # biGRU recurrence: fused (kernels.py), torch (nn.GRU; cuDNN on CUDA); auto: torch on CUDA
    gru: str = TRAINING_DEFAULTS["gru"]
    # stop after this many epochs without a better dev metric (0: run every epoch, the paper)
    patience: int = TRAINING_DEFAULTS["patience"]
    # constant (the paper), cosine (decay to 0 at `epochs`), plateau (halve when dev stalls)
    lr_schedule: str = TRAINING_DEFAULTS["lr_schedule"]
    # the learning rate rises linearly from 0 over these epochs first (0: none)
    warmup_epochs: float = TRAINING_DEFAULTS["warmup_epochs"]
    # HAN-ROCK's fusion starts with half its weight on the primary vector (not the paper)
    fusion_prior: bool = TRAINING_DEFAULTS["fusion_prior"]
    # how the losses are weighted while training: fixed (the paper) or an adaptive method (H4, loss_weighting.py)
    weighting: str = "fixed"

    def validate(self) -> None:
        """Refuse values outside Table 6's ranges or inconsistent ones, before any training."""
        problems = []
        if self.architecture not in ARCHITECTURES:
            problems.append(f"architecture {self.architecture!r} is not one of {ARCHITECTURES}")
        for name in ("learning_rate", "batch_size", "content_size", "l2", "dropout", "recurrent_dropout"):
            why = outside(name, getattr(self, name))
            if why:
                problems.append(why)
        if self.primary_units < 1 or self.aux_units < 0:
            problems.append(
                f"primary_units must be >= 1 and aux_units >= 0 (got P={self.primary_units}, A={self.aux_units})"
            )
        if self.capacity_total is not None and self.primary_units + self.aux_units != self.capacity_total:
            problems.append(
                f"P + A = {self.primary_units + self.aux_units}, but the study demands {self.capacity_total}"
            )
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                problems.append(f"{name} {getattr(self, name)!r} is not one of {list(allowed)}")
        if self.epochs < 1:
            problems.append(f"epochs {self.epochs} must be >= 1")
        if self.patience < 0 or self.warmup_epochs < 0:
            problems.append(f"patience ({self.patience}) and warmup_epochs ({self.warmup_epochs}) must be >= 0")
        if problems:
            raise InputError("invalid training config: " + "; ".join(problems))


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

    def windows(self, content_size: int) -> torch.Tensor:
        table = pd.DataFrame({"dialogue": self.dialogue_codes, "turn_index": self.turn_index})
        return torch.from_numpy(context_windows(table, content_size))

    def labelled(self, split: str) -> np.ndarray:
        present = (self.primary >= 0) if self.classification else ~torch.isnan(self.primary)
        return np.flatnonzero((self.split == split) & present.numpy())


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


CHUNK_TALKTURNS = 4  # the `chunks` sampler's stretch of consecutive talkturns


def _dialogue_order(data: TaskData, samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The samples dialogue by dialogue (dialogues in random order), each dialogue's in turn order."""
    dialogues = rng.permutation(np.unique(data.dialogue_codes[samples]))
    rank = np.empty(dialogues.max() + 1, dtype=np.int64)
    rank[dialogues] = np.arange(len(dialogues))
    return samples[np.lexsort((data.turn_index[samples], rank[data.dialogue_codes[samples]]))]


def _chunk_order(data: TaskData, samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stretches of CHUNK_TALKTURNS consecutive talkturns of one dialogue, the stretches in random order."""
    ordered = samples[np.lexsort((data.turn_index[samples], data.dialogue_codes[samples]))]
    codes = data.dialogue_codes[ordered]
    position = pd.Series(codes).groupby(codes).cumcount().to_numpy()  # each sample's place in its dialogue
    chunk = np.cumsum(position % CHUNK_TALKTURNS == 0) - 1  # a new chunk every CHUNK_TALKTURNS, and per dialogue
    shuffled = rng.permutation(chunk.max() + 1)
    return ordered[np.argsort(shuffled[chunk], kind="stable")]


def batches(
    data: TaskData, samples: np.ndarray, batch_size: int, sampler: str, rng: np.random.Generator
) -> list[np.ndarray]:
    """Sample indices per optimisation step.

    `shuffle` (paper-faithful): samples in random order, independent of dialogues.  `chunks`:
    stretches of 4 consecutive talkturns of one dialogue in random order, so a batch mixes many
    conversations while the talkturns of a stretch share their content context (cheaper).
    `dialogue`: dialogues in random order, each one's talkturns in order, cut into batches, so
    neighbouring samples share most of their content context (cheapest; a batch is one stretch of
    one conversation, which learns far slower: docs/training.md).
    """
    if sampler == "shuffle":
        order = rng.permutation(samples)
    elif sampler == "chunks":
        order = _chunk_order(data, samples, rng)
    else:
        order = _dialogue_order(data, samples, rng)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def distinct_talkturns(data: TaskData, windows: torch.Tensor, rows: np.ndarray, device) -> tuple[torch.Tensor, ...]:
    """The batch's distinct talkturns (words trimmed to their longest) and windows pointing into them."""
    batch_windows = windows[torch.from_numpy(rows)]  # (B, L) positions in the table
    distinct, inverse = torch.unique(batch_windows.clamp(min=0), return_inverse=True)
    local = torch.where(batch_windows >= 0, inverse, torch.full_like(inverse, -1))
    lengths = data.lengths[distinct]
    words = data.words[distinct, : max(1, int(lengths.max()))]
    return words.to(device), lengths.to(device), local.to(device)


def losses(
    out,
    primary: torch.Tensor,
    aux: torch.Tensor,
    aux_kinds: tuple[str, ...],
    classification: bool,
    class_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-task mean losses (1 + N,): cross-entropy for classes (weighted per class when given), MAE for
    numbers; missing targets masked."""
    if classification:
        present = primary >= 0
        primary_loss = (
            F.cross_entropy(out.primary[present], primary[present], weight=class_weights)
            if present.any()
            else out.primary.sum() * 0
        )
    else:
        present = ~torch.isnan(primary)
        primary_loss = (out.primary[:, 0] - primary).abs()[present].mean() if present.any() else out.primary.sum() * 0
    if out.aux is None or aux.shape[1] == 0:
        return primary_loss.unsqueeze(0)
    target = aux.T  # (N, B)
    present = ~torch.isnan(target)
    safe = torch.where(present, target, torch.zeros_like(target))
    is_class = torch.tensor([k == "class" for k in aux_kinds], device=target.device).unsqueeze(1)  # (N, 1)
    mae = (out.aux[:, :, 0] - safe).abs()  # (N, B)
    class_index = torch.where(is_class, safe, torch.zeros_like(safe)).long()  # numbers never index classes
    nll = -torch.log_softmax(out.aux, dim=-1).gather(2, class_index.unsqueeze(-1)).squeeze(-1)  # (N, B)
    per_row = torch.where(is_class, nll, mae) * present
    aux_loss = per_row.sum(1) / present.sum(1).clamp(min=1)  # (N,)
    return torch.cat([primary_loss.unsqueeze(0), aux_loss])


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_recurrence(name: str, device: torch.device) -> str:
    """The biGRU recurrence a run uses: `auto` is torch.nn.GRU (cuDNN) on CUDA, the fused kernel elsewhere."""
    if name == "auto":
        return "torch" if torch.device(device).type == "cuda" else "fused"
    return name


def setup_kernels(config: TrainConfig, device: torch.device) -> bool:
    """Compile the attention kernel when asked (`auto`: on CPU unless HANROCK_COMPILE=0)."""
    wanted = config.compile == "on" or (config.compile == "auto" and device.type == "cpu" and read_deployment().compile)
    return compile_kernels(wanted)


def model_shape(data: TaskData, config: TrainConfig) -> ModelShape:
    """The sizes of the model `config` trains on `data`."""
    n_classes = len(data.classes) if data.classification else 1
    return ModelShape(
        config.architecture,
        len(data.vocab),
        n_classes,
        data.aux_kinds,
        config.primary_units,
        config.aux_units,
        config.embedding_dim,
        config.dropout,
        config.recurrent_dropout,
        aux_classes=n_classes + 1 if data.classification else 1,  # neighbour labels + "no label"
        fusion_prior=config.fusion_prior,
    )


def make_model(data: TaskData, config: TrainConfig) -> HierarchicalModel:
    model = HierarchicalModel(model_shape(data, config))
    if data.vectors is not None:
        if data.vectors.shape != model.embedding.weight.shape:
            raise InputError(
                f"word vectors of shape {tuple(data.vectors.shape)} do not fit the embedding "
                f"{tuple(model.embedding.weight.shape)}",
                hint="set the profile's embedding_dim to the vectors' width",
            )
        with torch.no_grad():
            model.embedding.weight.copy_(data.vectors)
        model.embedding.weight.requires_grad_(config.embedding_trainable)
    return model


def balanced_class_weights(data: TaskData, train_rows: np.ndarray) -> torch.Tensor:
    """n / (K n_c) per class of the labelled train talkturns (a class absent from train gets weight 0)."""
    counts = torch.bincount(data.primary[torch.from_numpy(train_rows)], minlength=len(data.classes)).float()
    return torch.where(counts > 0, counts.sum() / (len(data.classes) * counts.clamp(min=1)), torch.zeros_like(counts))


STOPPED = ("epochs", "patience", "callback")  # why training ended: the last epoch, no dev gain, or the search


@dataclass
class TrainResult:
    best_epoch: int
    dev: dict[str, float]
    test: dict[str, float]
    history: list[dict] = field(default_factory=list)  # per epoch: epoch, train_loss, lr, dev_*, test_*
    state_dict: dict | None = None
    test_predictions: pd.DataFrame | None = None
    # per labelled dev and test talkturn: utterance_id, split, output_0.. (class probabilities, or the value)
    outputs: pd.DataFrame | None = None
    config: dict = field(default_factory=dict)
    stopped: str = "epochs"  # one of STOPPED
    weighting: dict = field(default_factory=dict)  # final loss weights, each target's affinity (loss_weighting.py)


class LearningRate:
    """The learning rate of every step: linear warm-up, then constant, cosine decay or halving on a plateau."""

    PLATEAU_EPOCHS = 2  # epochs without a better dev metric before the rate halves
    PLATEAU_FACTOR = 0.5

    def __init__(self, config: TrainConfig, steps_per_epoch: int):
        self.base, self.kind = config.learning_rate, config.lr_schedule
        self.warmup = config.warmup_epochs * steps_per_epoch
        self.total = max(1, config.epochs * steps_per_epoch)
        self.scale, self.stalled = 1.0, 0

    def at(self, step: int) -> float:
        """The rate of optimisation step `step` (0-based, counted over the whole run)."""
        rate = self.base * self.scale
        if self.warmup and step < self.warmup:
            return rate * (step + 1) / self.warmup
        if self.kind == "cosine":
            done = (step - self.warmup) / max(1.0, self.total - self.warmup)
            rate *= 0.5 * (1 + np.cos(np.pi * min(1.0, done)))
        return float(rate)

    def epoch_end(self, improved: bool) -> None:
        """`plateau`: halve the rate after PLATEAU_EPOCHS epochs without a better dev metric."""
        self.stalled = 0 if improved else self.stalled + 1
        if self.kind == "plateau" and self.stalled >= self.PLATEAU_EPOCHS:
            self.scale *= self.PLATEAU_FACTOR
            self.stalled = 0


@torch.no_grad()
def primary_outputs(
    model: HierarchicalModel, data: TaskData, windows: torch.Tensor, rows: np.ndarray, batch_size: int, device
) -> torch.Tensor:
    """(len(rows), K) primary outputs (class logits, or the value in column 0) in the order of `rows`.

    Rows are evaluated in dialogue order, `batch_size` at a time, so neighbouring samples share
    their talkturns; `hanrock predict` calls this too, so a kept model gives what training gave."""
    model.eval()
    order = rows[np.lexsort((data.turn_index[rows], data.dialogue_codes[rows]))]
    position = {r: i for i, r in enumerate(rows)}
    out = None
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        primary = model(*distinct_talkturns(data, windows, chunk, device)).primary.float().cpu()  # (b, K)
        if out is None:
            out = torch.empty(len(rows), primary.shape[1])
        out[[position[r] for r in chunk]] = primary
    return out if out is not None else torch.empty(0, 1)


def predict(
    model: HierarchicalModel, data: TaskData, windows: torch.Tensor, rows: np.ndarray, config: TrainConfig, device
) -> np.ndarray:
    """Primary predictions for `rows`: class indices or values."""
    return decide(data, primary_outputs(model, data, windows, rows, config.eval_batch_size, device))


def outputs_frame(data: TaskData, rows: dict[str, np.ndarray], outputs: dict[str, torch.Tensor]) -> pd.DataFrame | None:
    """Each labelled dev and test talkturn's primary output: class probabilities (softmax), or the value.

    `outputs`: split -> (n, K) raw outputs of `rows[split]`.  What a seed ensemble averages
    (study/seed_ensemble.py); float32, one column per class (`output_k`)."""
    frames = []
    for split, out in outputs.items():
        values = torch.softmax(out, -1) if data.classification else out[:, :1]
        frame = pd.DataFrame(values.numpy().astype(np.float32), columns=output_columns(values.shape[1]))
        frame.insert(0, "split", split)
        frame.insert(0, "utterance_id", data.utterance_ids[rows[split]])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else None


def output_columns(k: int) -> list[str]:
    """The names of K primary output columns in an outputs file."""
    return [f"output_{i}" for i in range(k)]


def decide(data: TaskData, out: torch.Tensor) -> np.ndarray:
    """Predictions from (n, K) primary outputs: the class index (argmax), or the value in column 0."""
    values = out.argmax(-1) if data.classification else out[:, 0]
    return values.double().numpy()


def prediction_frame(data: TaskData, rows: np.ndarray, pred: np.ndarray) -> pd.DataFrame:
    """utterance_id, truth and prediction (class names, or values) of the talkturns `rows`."""
    labels = data.classes
    truth = data.primary[torch.from_numpy(rows)].numpy()
    return pd.DataFrame(
        {
            "utterance_id": data.utterance_ids[rows],
            "truth": [labels[int(t)] for t in truth] if labels else truth,
            "prediction": [labels[int(p)] for p in pred] if labels else pred,
        }
    )


def metrics_of(data: TaskData, rows: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The task's metrics of predictions `pred` for `rows` (metrics.py, as the paper computes them)."""
    truth = data.primary[torch.from_numpy(rows)].numpy()
    if data.classification:
        return classification_metrics(truth.astype(int), pred.astype(int), data.classes)
    return regression_metrics(truth, pred)


@dataclass
class _Run:
    """One training run's moving parts: the model, its optimiser and schedule, the rows and windows it uses."""

    data: TaskData
    config: TrainConfig
    device: torch.device
    model: HierarchicalModel
    weighting: Weighting  # how each step weighs its (1 + N,) losses
    optimiser: torch.optim.Optimizer
    schedule: LearningRate
    windows: torch.Tensor
    rows: dict[str, np.ndarray]  # split -> labelled rows
    class_weights: torch.Tensor | None
    rng: np.random.Generator
    heldout_rng: np.random.Generator  # the dev batches of the `lookahead` weighting (never the train order's)
    step: int = 0

    @classmethod
    def start(cls, data: TaskData, config: TrainConfig, loss_weights: np.ndarray) -> _Run:
        """Check the config and weights, seed everything, build the model and its optimiser."""
        config.validate()
        weights = torch.as_tensor(np.asarray(loss_weights, dtype=np.float32))
        if len(weights) != 1 + len(data.aux_names):
            raise InputError(f"{len(weights)} loss weights for 1 primary + {len(data.aux_names)} auxiliary tasks")
        device = resolve_device(config.device)
        setup_kernels(config, device)
        torch.manual_seed(config.seed)
        rng = np.random.default_rng(config.seed)
        model = make_model(data, config).to(device).use_recurrence(resolve_recurrence(config.gru, device))
        if model.aux_heads is None:
            weights = weights[:1] / weights[:1]  # a single-task model: the primary loss alone
        weighting = make_weighting(config.weighting, weights.to(device), model)
        optimiser = _optimiser(config, [p for p in model.parameters() if p.requires_grad])
        if weighting.parameters():  # learned loss weights: no weight decay on them
            optimiser.add_param_group(
                {"params": weighting.parameters(), "weight_decay": 0.0, "fixed_lr": weighting.learning_rate()}
            )
        windows = data.windows(config.content_size)
        rows = {split: data.labelled(split) for split in ("train", "dev", "test")}
        if len(rows["train"]) == 0:
            raise InputError("no labelled talkturns in the train split")
        balanced = config.class_weights == "balanced"
        class_weights = balanced_class_weights(data, rows["train"]).to(device) if balanced else None
        schedule = LearningRate(config, -(-len(rows["train"]) // config.batch_size))
        heldout_rng = np.random.default_rng([config.seed, 1])
        return cls(
            data, config, device, model, weighting, optimiser, schedule, windows, rows, class_weights, rng, heldout_rng
        )

    def train_epoch(self, epoch: int) -> float:
        """One pass over the labelled train talkturns; returns the mean weighted loss."""
        data, config, device = self.data, self.config, self.device
        params = [p for p in self.model.parameters() if p.requires_grad]
        heldout = self._heldout_loss if len(self.rows["dev"]) else None
        self.model.train()
        total, steps = 0.0, 0
        for rows in batches(data, self.rows["train"], config.batch_size, config.sampler, self.rng):
            for group in self.optimiser.param_groups:
                group["lr"] = group.get("fixed_lr") or self.schedule.at(self.step)
            self.step += 1
            out = self.model(*distinct_talkturns(data, self.windows, rows, device))
            per_task = losses(
                out,
                data.primary[rows].to(device),
                data.aux[rows].to(device),
                data.aux_kinds,
                data.classification,
                self.class_weights,
            )
            loss = self.weighting.loss(out, per_task, heldout)
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"the loss became {loss.item()} at epoch {epoch}, step {steps + 1} "
                    f"(learning rate {config.learning_rate:g}); this trial stops"
                )
            self.optimiser.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip_norm:
                torch.nn.utils.clip_grad_norm_(params, config.clip_norm)
            self.optimiser.step()
            total += loss.item()
            steps += 1
        self.weighting.epoch_end(epoch)
        return total / max(steps, 1)

    def _heldout_loss(self) -> torch.Tensor:
        """The primary loss of a random dev batch (the `lookahead` weighting's held-out signal)."""
        dev = self.rows["dev"]
        rows = np.sort(self.heldout_rng.choice(dev, size=min(len(dev), self.config.batch_size), replace=False))
        out = self.model(*distinct_talkturns(self.data, self.windows, rows, self.device))
        primary = self.data.primary[rows].to(self.device)
        return losses(out, primary, self.data.aux[rows][:, :0].to(self.device), (), self.data.classification)[0]

    def record(self, epoch: int, train_loss: float) -> tuple[dict, dict[str, torch.Tensor]]:
        """The epoch's history entry (train loss, learning rate, every dev and test metric), and the raw
        dev and test outputs it was computed from (kept for the best epoch: no second pass later)."""
        record = {"epoch": epoch, "train_loss": train_loss, "lr": self.optimiser.param_groups[0]["lr"]}
        outputs = {}
        for split in ("dev", "test"):
            rows = self.rows[split]
            if len(rows):
                outputs[split] = primary_outputs(
                    self.model, self.data, self.windows, rows, self.config.eval_batch_size, self.device
                )  # (n, K)
                metrics = metrics_of(self.data, rows, decide(self.data, outputs[split]))
                record.update({f"{split}_{k}": v for k, v in metrics.items()})
        return record, outputs


def _optimiser(config: TrainConfig, params: list) -> torch.optim.Optimizer:
    """SGD with momentum (the authors') or Adam; L2 as weight decay 2 x l2."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.learning_rate, momentum=config.momentum, weight_decay=2 * config.l2)
    return torch.optim.Adam(params, lr=config.learning_rate, weight_decay=2 * config.l2)


def train(
    data: TaskData,
    config: TrainConfig,
    loss_weights: np.ndarray,
    on_epoch: Callable[[int, dict], None] | None = None,
    checkpoint: str | Path | None = None,
) -> TrainResult:
    """Train one model; the returned state and metrics are those of the best dev epoch.

    `loss_weights` has 1 + N entries (primary first).  `on_epoch(epoch, metrics)` returns True to
    stop after that epoch (the search's pruning): the result is then the best epoch so far.  A NaN
    loss raises TrainingDiverged.
    """
    run = _Run.start(data, config, loss_weights)
    model = run.model
    test_rows = run.rows["test"]
    metric, higher_better = data.selection
    best, history, stopped = None, [], "epochs"
    best_outputs: dict[str, torch.Tensor] = {}  # split -> (n, K) outputs of the best epoch
    for epoch in range(1, config.epochs + 1):
        record, outputs = run.record(epoch, run.train_epoch(epoch))
        history.append(record)
        score = record.get(f"dev_{metric}", -record["train_loss"] if higher_better else record["train_loss"])
        improved = best is None or (score > best[0] if higher_better else score < best[0])
        if improved:
            best = (score, epoch, copy.deepcopy(model.state_dict()))
            best_outputs = outputs
        run.schedule.epoch_end(improved)
        if on_epoch is not None and on_epoch(epoch, record):
            stopped = "callback"
            break
        if config.patience and epoch - best[1] >= config.patience and epoch < config.epochs:
            stopped = "patience"
            break
    _, best_epoch, state = best
    model.load_state_dict(state)
    result = TrainResult(
        best_epoch=best_epoch,
        dev=_strip(history[best_epoch - 1], "dev_"),
        test=_strip(history[best_epoch - 1], "test_"),
        history=history,
        state_dict=state,
        config=asdict(config),
        stopped=stopped,
        weighting=run.weighting.summary(data.aux_names if run.model.aux_heads is not None else ()),
    )
    result.outputs = outputs_frame(data, run.rows, best_outputs)
    if len(test_rows):
        pred = decide(data, best_outputs["test"])  # what predict() gives after the state is loaded
        result.test_predictions = prediction_frame(data, test_rows, pred)
    if checkpoint is not None:
        save_checkpoint(state, checkpoint)
    return result


def _strip(record: dict, prefix: str) -> dict[str, float]:
    return {k[len(prefix) :]: v for k, v in record.items() if k.startswith(prefix)}


def save_checkpoint(state: dict, path: str | Path) -> Path:
    """Write a state_dict atomically."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def load_checkpoint(path: str | Path) -> dict:
    """Read a state_dict saved by save_checkpoint (tensors only: weights_only=True)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file is reported, never used
        raise InputError(
            f"checkpoint cannot be read ({type(exc).__name__}: {exc})", path, hint="delete it and re-run the trial"
        ) from exc


__all__ = [
    "TaskData",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "batches",
    "build_task_data",
    "distinct_talkturns",
    "load_checkpoint",
    "losses",
    "make_model",
    "model_shape",
    "predict",
    "primary_outputs",
    "resolve_recurrence",
    "save_checkpoint",
    "outputs_frame",
    "decide",
    "metrics_of",
    "output_columns",
    "train",
]
