"""`hanrock bench`: training speed of the engine beside the plain reference step, in one run.

Shape of the comparison (the paper's Table 7 IEMOCAP classification model): batch 43, content
18, P 256, A 1, embedding 300, 12..24 words per talkturn, 16 auxiliary tasks, 4 classes.  The
engine trains on dialogues of random words with its default dialogue sampler, so neighbouring
samples share their context talkturns; the reference re-encodes every window.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from .model import ModelShape
from .training import TaskData, TrainConfig, batches, distinct_talkturns, losses, make_model, setup_kernels
from .vocabulary import Vocabulary

DEFAULT_REFERENCE = Path("..") / "shared" / "bench" / "reference_hanrock.py"
TURNS_PER_DIALOGUE = 62
EPOCH_TALKTURNS = 5766  # IEMOCAP's train split (Table 5)


def random_corpus(n_talkturns: int, words: int, vocab: int, n_aux: int, seed: int) -> TaskData:
    """Dialogues of random words (12..`words` per talkturn), every talkturn labelled, all train."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(words // 2, words + 1, (n_talkturns,), generator=g)
    ids = torch.randint(1, vocab, (n_talkturns, words), generator=g)
    ids = ids.masked_fill(torch.arange(words).unsqueeze(0) >= lengths.unsqueeze(1), 0)
    dialogue = np.arange(n_talkturns) // TURNS_PER_DIALOGUE
    return TaskData(words=ids, lengths=lengths, dialogue_codes=dialogue,
                    turn_index=np.arange(n_talkturns) % TURNS_PER_DIALOGUE, split=np.full(n_talkturns, "train"),
                    primary=torch.randint(0, 4, (n_talkturns,), generator=g), aux=torch.rand(n_talkturns, n_aux, generator=g),
                    aux_kinds=("regression",) * n_aux, aux_names=tuple(f"aux{k}" for k in range(n_aux)),
                    classes=["a", "b", "c", "d"], vocab=Vocabulary(tuple(str(i) for i in range(vocab))),
                    utterance_ids=np.arange(n_talkturns).astype(str))


def forward_flops(shape: ModelShape, word_counts: torch.Tensor, window_lengths: torch.Tensor) -> float:
    """Multiply-add FLOPs of one forward pass over the useful (unpadded) words and talkturns."""
    P, A, E, N = shape.primary_units, shape.aux_units, shape.embedding_dim, len(shape.aux_kinds)
    words, steps = float(word_counts.sum()), float(window_lengths.sum())
    gru = lambda d_in, h: 2 * 3 * (d_in * h + h * h) * 2  # noqa: E731 - both directions
    flops = words * (gru(E, P) + 2 * (2 * P) * (2 * P))  # primary word encoder
    flops += steps * (gru(2 * P, P) + 2 * (2 * P) * (2 * P))  # primary talkturn encoder
    if shape.architecture == "han_rock" and A > 0:
        flops += words * (gru(E, A) + 2 * (2 * A) ** 2)
        flops += steps * N * (gru(2 * A, A) + 2 * (2 * A) * (2 * P))
    return flops


class _Stepper:
    """The engine's training step at the benchmark shape (SGD, momentum 0.9, clipping 1.0)."""

    def __init__(self, data: TaskData, config: TrainConfig):
        torch.manual_seed(config.seed)
        self.data, self.model = data, make_model(data, config)
        self.optimiser = torch.optim.SGD(self.model.parameters(), lr=config.learning_rate, momentum=0.9)
        self.windows = data.windows(config.content_size)
        self.weights = torch.tensor(np.r_[0.84, np.full(len(data.aux_names), 0.01)], dtype=torch.float32)

    def __call__(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        words, lengths, local = distinct_talkturns(self.data, self.windows, rows, "cpu")
        out = self.model(words, lengths, local)
        per_task = losses(out, self.data.primary[rows], self.data.aux[rows], self.data.aux_kinds, True)
        self.optimiser.zero_grad()
        (self.weights * per_task).sum().backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimiser.step()
        return lengths, local


def engine_rate(data: TaskData, config: TrainConfig, steps: int) -> tuple[float, float]:
    """Training talkturns/s and achieved GFLOP/s over `steps` optimisation steps (after one warm-up)."""
    step = _Stepper(data, config)
    plan = batches(data, data.labelled("train"), config.batch_size, "dialogue", np.random.default_rng(0))
    plan = [b for b in plan if len(b) == config.batch_size][: steps + 1]
    step(plan[0])  # warm-up
    flops = 0.0
    start = time.perf_counter()
    for rows in plan[1:]:
        lengths, local = step(rows)
        flops += 3 * forward_flops(step.model.shape, lengths, (local >= 0).sum(1))
    elapsed = time.perf_counter() - start
    return config.batch_size * (len(plan) - 1) / elapsed, flops / elapsed / 1e9


def epoch_seconds(data: TaskData, config: TrainConfig) -> float:
    """Wall time of one training epoch over all of `data` (no evaluation)."""
    step = _Stepper(data, config)
    start = time.perf_counter()
    for rows in batches(data, data.labelled("train"), config.batch_size, "dialogue", np.random.default_rng(0)):
        step(rows)
    return time.perf_counter() - start


def reference_rate(path: Path, batch: int, context: int, words: int, steps: int) -> float | None:
    """talkturns/s of the plain reference script, run as it is in a subprocess (None if absent)."""
    if not path.exists():
        return None
    out = subprocess.run([sys.executable, str(path), "--batch", str(batch), "--context", str(context),
                          "--words", str(words), "--steps", str(steps), "--json"],
                         capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["talkturns_per_s"])


def gemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n ** 3 * repeats / (time.perf_counter() - start) / 1e9


def run(reference: Path = DEFAULT_REFERENCE, steps: int = 8, epoch_talkturns: int = EPOCH_TALKTURNS,
        batch: int = 43, content: int = 18, words: int = 24, seed: int = 0, compile: str = "auto") -> dict:
    """Every figure of the benchmark, measured now on this machine."""
    config = TrainConfig(architecture="han_rock", primary_units=256, aux_units=1, embedding_dim=300,
                         batch_size=batch, content_size=content, learning_rate=2 ** -7, dropout=0.0,
                         recurrent_dropout=0.0, seed=seed, compile=compile)
    compiled = setup_kernels(config, torch.device("cpu"))
    corpus = random_corpus(max(epoch_talkturns, batch * (steps + 2) * 2), words, 4000, 16, seed)
    rate, gflops = engine_rate(corpus, config, steps)
    ref = reference_rate(Path(reference), batch, content, words, 3)
    epoch_corpus = random_corpus(epoch_talkturns, words, 4000, 16, seed + 1)
    epoch1 = epoch_seconds(epoch_corpus, replace(config, content_size=1))
    epoch30 = epoch_seconds(epoch_corpus, replace(config, content_size=30))
    return {
        "engine_talkturns_per_s": round(rate, 1),
        "reference_talkturns_per_s": ref,
        "speedup": round(rate / ref, 2) if ref else None,
        "epoch_s_content1": round(epoch1, 2),
        "epoch_s_content30": round(epoch30, 2),
        "content_ratio": round(epoch30 / epoch1, 2),
        "gflops": round(gflops, 1),
        "gemm_gflops": round(gemm_gflops(), 1),
        "shape": {"batch": batch, "content": content, "words": words, "P": 256, "A": 1, "embedding": 300,
                  "aux_tasks": 16, "epoch_talkturns": epoch_talkturns, "threads": torch.get_num_threads(),
                  "compiled_attention": compiled},
    }


def report(figures: dict) -> str:
    ref = figures["reference_talkturns_per_s"]
    lines = [
        f"engine:    {figures['engine_talkturns_per_s']:.1f} training talkturns/s "
        f"(batch {figures['shape']['batch']}, content {figures['shape']['content']}, P 256, A 1, embedding 300)",
        f"reference: {ref:.1f} talkturns/s, speedup {figures['speedup']:.2f}x (target >= 8)" if ref
        else "reference: not found (pass --reference PATH); engine figures only",
        f"epoch of {figures['shape']['epoch_talkturns']} talkturns: content 1 {figures['epoch_s_content1']:.2f} s, "
        f"content 30 {figures['epoch_s_content30']:.2f} s, ratio {figures['content_ratio']:.2f} (target <= 3.5)",
        f"achieved {figures['gflops']:.1f} GFLOP/s (useful work) vs GEMM {figures['gemm_gflops']:.1f} GFLOP/s "
        f"on {figures['shape']['threads']} threads; compiled attention kernel: {figures['shape']['compiled_attention']}",
    ]
    return "\n".join(lines)
