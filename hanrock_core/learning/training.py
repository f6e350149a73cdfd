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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from hanrock_core.base.errors import InputError
from hanrock_core.learning.batching import batches, distinct_talkturns
from hanrock_core.learning.checkpoint import save_checkpoint
from hanrock_core.learning.device import resolve_device, resolve_recurrence, setup_kernels
from hanrock_core.learning.epoch_outputs import decide, metrics_of, outputs_frame, prediction_frame, primary_outputs
from hanrock_core.learning.loss_weighting import Weighting, make_weighting
from hanrock_core.learning.model import HierarchicalModel, ModelShape
from hanrock_core.learning.task_data import TaskData
from hanrock_core.learning.train_config import TrainConfig


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: the trial stops, the study goes on."""


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
        speaker_context=config.speaker_context,
        content_after=config.content_after,
        word_dropout=config.word_dropout,
        head_dropout=config.head_dropout,
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


@dataclass
class TrainingRun:
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
    def start(cls, data: TaskData, config: TrainConfig, loss_weights: np.ndarray) -> TrainingRun:
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
        windows = data.windows(config.content_size, config.content_after)
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
    run = TrainingRun.start(data, config, loss_weights)
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


__all__ = [
    "LearningRate",
    "TrainResult",
    "TrainingDiverged",
    "TrainingRun",
    "balanced_class_weights",
    "losses",
    "make_model",
    "model_shape",
    "train",
]
