"""What a model outputs for a split after an epoch: primary outputs, predictions, metrics and the outputs files.

Training, seed ensembles and `hanrock predict` share these, so a kept model gives what training gave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from hanrock_core.base.metrics import classification_metrics, regression_metrics
from hanrock_core.learning.batching import distinct_talkturns
from hanrock_core.learning.model import HierarchicalModel
from hanrock_core.learning.task_data import TaskData
from hanrock_core.learning.train_config import TrainConfig


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


__all__ = ["decide", "metrics_of", "output_columns", "outputs_frame", "predict", "prediction_frame", "primary_outputs"]
