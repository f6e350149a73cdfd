"""`hanrock bench`: training speed of the engine beside the plain reference step, in one run.

Shape of the comparison (the paper's Table 7 IEMOCAP classification model): batch 43, content
18, P 256, A 1, embedding 300, 12..24 words per talkturn, 16 auxiliary tasks, 4 classes.  The
engine trains on dialogues of random words with its default dialogue sampler, so neighbouring
samples share their context talkturns; the reference re-encodes every window.  Both biGRU
recurrences (`fused`, `torch`) are measured on the chosen device (CPU or CUDA), and the
reference step runs on the same device.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from hanrock_core.learning.batching import batches, distinct_talkturns
from hanrock_core.learning.device import resolve_device, resolve_recurrence, setup_kernels
from hanrock_core.learning.model import RECURRENCES, ModelShape
from hanrock_core.learning.task_data import TaskData
from hanrock_core.learning.train_config import TrainConfig
from hanrock_core.learning.training import losses, make_model
from hanrock_core.preparation.vocabulary import Vocabulary

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
    return TaskData(
        words=ids,
        lengths=lengths,
        dialogue_codes=dialogue,
        turn_index=np.arange(n_talkturns) % TURNS_PER_DIALOGUE,
        split=np.full(n_talkturns, "train"),
        primary=torch.randint(0, 4, (n_talkturns,), generator=g),
        aux=torch.rand(n_talkturns, n_aux, generator=g),
        aux_kinds=("regression",) * n_aux,
        aux_names=tuple(f"aux{k}" for k in range(n_aux)),
        classes=["a", "b", "c", "d"],
        vocab=Vocabulary(tuple(str(i) for i in range(vocab))),
        utterance_ids=np.arange(n_talkturns).astype(str),
    )


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


def _synchronise(device: torch.device) -> None:
    """Wait for the device's queued work, so that a clock reading covers it (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Stepper:
    """The engine's training step at the benchmark shape (SGD, momentum 0.9, clipping 1.0) on a device."""

    def __init__(self, data: TaskData, config: TrainConfig, device: torch.device):
        torch.manual_seed(config.seed)
        self.data, self.device = data, device
        self.model = make_model(data, config).to(device).use_recurrence(resolve_recurrence(config.gru, device))
        self.optimiser = torch.optim.SGD(self.model.parameters(), lr=config.learning_rate, momentum=0.9)
        self.windows = data.windows(config.content_size, config.content_after)
        self.weights = torch.tensor(np.r_[0.84, np.full(len(data.aux_names), 0.01)], dtype=torch.float32, device=device)

    def __call__(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        words, lengths, local, speakers = distinct_talkturns(self.data, self.windows, rows, self.device)
        out = self.model(words, lengths, local, speakers)
        per_task = losses(
            out, self.data.primary[rows].to(self.device), self.data.aux[rows].to(self.device), self.data.aux_kinds, True
        )
        self.optimiser.zero_grad()
        (self.weights * per_task).sum().backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimiser.step()
        return lengths, local


def engine_rate(data: TaskData, config: TrainConfig, steps: int, device: torch.device) -> tuple[float, float]:
    """Training talkturns/s and achieved GFLOP/s over `steps` optimisation steps (after one warm-up)."""
    step = _Stepper(data, config, device)
    plan = batches(data, data.labelled("train"), config.batch_size, "dialogue", np.random.default_rng(0))
    plan = [b for b in plan if len(b) == config.batch_size][: steps + 1]
    step(plan[0])  # warm-up
    flops = 0.0
    _synchronise(device)
    start = time.perf_counter()
    for rows in plan[1:]:
        lengths, local = step(rows)
        flops += 3 * forward_flops(step.model.shape, lengths.cpu(), (local >= 0).sum(1).cpu())
    _synchronise(device)
    elapsed = time.perf_counter() - start
    return config.batch_size * (len(plan) - 1) / elapsed, flops / elapsed / 1e9


def epoch_seconds(data: TaskData, config: TrainConfig, device: torch.device) -> float:
    """Wall time of one training epoch over all of `data` (no evaluation)."""
    step = _Stepper(data, config, device)
    _synchronise(device)
    start = time.perf_counter()
    for rows in batches(data, data.labelled("train"), config.batch_size, "dialogue", np.random.default_rng(0)):
        step(rows)
    _synchronise(device)
    return time.perf_counter() - start


def reference_rate(
    path: Path, batch: int, context: int, words: int, steps: int, device: torch.device = torch.device("cpu")
) -> float | None:
    """talkturns/s of the plain reference step (None if its script is absent).

    On the CPU the script runs as it is, in a subprocess; on CUDA its model and step run here on
    the device (the script itself has no device option)."""
    if not path.exists():
        return None
    if device.type == "cpu":
        out = subprocess.run(
            [
                sys.executable,
                str(path),
                "--batch",
                str(batch),
                "--context",
                str(context),
                "--words",
                str(words),
                "--steps",
                str(steps),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return float(json.loads(out.stdout.strip().splitlines()[-1])["talkturns_per_s"])
    spec = importlib.util.spec_from_file_location("reference_hanrock", path)
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    args = type("Args", (), {"batch": batch, "context": context, "words": words, "vocab": 4000})
    g = torch.Generator().manual_seed(0)
    tokens = [reference.batch_of(args, g).to(device) for _ in range(steps + 1)]
    labels = torch.randint(0, 4, (batch,), generator=g).to(device)
    targets = torch.rand(batch, 16, generator=g).to(device)
    torch.manual_seed(0)
    with device:  # the reference builds its fusion mask with torch.ones(): on the device too
        model = reference.ReferenceHanRock(4000)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(batch_tokens):
        with device:
            logits, aux = model(batch_tokens)
        loss = 0.84 * torch.nn.functional.cross_entropy(logits, labels) + 0.01 * (aux - targets).abs().mean(0).sum()
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()

    step(tokens[0])  # warm-up
    _synchronise(device)
    start = time.perf_counter()
    for batch_tokens in tokens[1:]:
        step(batch_tokens)
    _synchronise(device)
    return batch * steps / (time.perf_counter() - start)


def gemm_gflops(device: torch.device = torch.device("cpu"), n: int = 2048, repeats: int = 5) -> float:
    """float32 matrix-product GFLOP/s of the device: what the engine's GFLOP/s compares with."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    _synchronise(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _synchronise(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def backend_figures(
    corpus: TaskData, epoch_corpus: TaskData, config: TrainConfig, steps: int, device: torch.device
) -> dict:
    """The engine's figures with one biGRU recurrence (config.gru)."""
    rate, gflops = engine_rate(corpus, config, steps, device)
    epoch1 = epoch_seconds(epoch_corpus, replace(config, content_size=1), device)
    epoch30 = epoch_seconds(epoch_corpus, replace(config, content_size=30), device)
    return {
        "engine_talkturns_per_s": round(rate, 1),
        "epoch_s_content1": round(epoch1, 2),
        "epoch_s_content30": round(epoch30, 2),
        "content_ratio": round(epoch30 / epoch1, 2),
        "gflops": round(gflops, 1),
    }


WEIGHTING_SHAPE = dict(
    primary_units=32, aux_units=1, embedding_dim=32, batch_size=32, content_size=3
)  # the quick profile's


def weighting_seconds(talkturns: int = 2000, seed: int = 0, device: str = "auto") -> dict[str, float]:
    """Wall time of one training epoch (no evaluation; the faster of two after a warm-up) under each loss
    weighting (learning/loss_weighting.py), at the quick profile's model size with 16 auxiliary targets; a
    fifth of the talkturns are dev (lookahead's held-out batches).  The same data, seed and batches for
    each: only the weighting differs."""
    from hanrock_core.learning.loss_weighting import WEIGHTINGS
    from hanrock_core.learning.training import TrainingRun

    data = random_corpus(talkturns, 24, 4000, 16, seed)
    data.split[: talkturns // 5] = "dev"
    weights = np.r_[0.84, np.full(16, 0.01)]
    out: dict[str, float] = {}
    for repeat in range(3):  # the first pass warms up; each weighting's figure is the faster of two
        for name in WEIGHTINGS:
            config = TrainConfig(
                **WEIGHTING_SHAPE,
                optimizer="adam",
                learning_rate=2**-7,
                sampler="chunks",
                seed=seed,
                weighting=name,
                device=device,
                fusion_prior=True,
            )
            run = TrainingRun.start(data, config, weights)
            _synchronise(run.device)
            start = time.perf_counter()
            run.train_epoch(1)
            _synchronise(run.device)
            if repeat:
                out[name] = min(out.get(name, np.inf), time.perf_counter() - start)
    return out


def run(
    reference: Path | None = None,
    steps: int = 8,
    epoch_talkturns: int = EPOCH_TALKTURNS,
    batch: int = 43,
    content: int = 18,
    words: int = 24,
    seed: int = 0,
    compile: str = "auto",
    device: str = "auto",
    recurrences: tuple[str, ...] = RECURRENCES,
    weightings: bool = True,
) -> dict:
    """Every figure of the benchmark, measured now on this machine: each recurrence, the reference, on `device`.

    The top-level engine figures are those of the device's default recurrence (`gru: auto`); `reference`
    defaults to DEFAULT_REFERENCE."""
    reference = DEFAULT_REFERENCE if reference is None else reference
    where = resolve_device(device)
    config = TrainConfig(
        architecture="han_rock",
        primary_units=256,
        aux_units=1,
        embedding_dim=300,
        optimizer="sgd",
        batch_size=batch,
        content_size=content,
        learning_rate=2**-7,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=seed,
        compile=compile,
    )
    compiled = setup_kernels(config, where)
    corpus = random_corpus(max(epoch_talkturns, batch * (steps + 2) * 2), words, 4000, 16, seed)
    epoch_corpus = random_corpus(epoch_talkturns, words, 4000, 16, seed + 1)
    backends = {r: backend_figures(corpus, epoch_corpus, replace(config, gru=r), steps, where) for r in recurrences}
    default = resolve_recurrence("auto", where)
    main = backends.get(default) or next(iter(backends.values()))
    ref = reference_rate(Path(reference), batch, content, words, 3, where)
    costs = weighting_seconds(seed=seed, device=device) if weightings else {}
    return {
        **main,
        "weighting_epoch_s": {k: round(v, 3) for k, v in costs.items()},
        "gru": default if default in backends else next(iter(backends)),
        "reference_talkturns_per_s": round(ref, 1) if ref else ref,
        "speedup": round(main["engine_talkturns_per_s"] / ref, 2) if ref else None,
        "backends": {
            r: {**f, "speedup": round(f["engine_talkturns_per_s"] / ref, 2) if ref else None}
            for r, f in backends.items()
        },
        "device": where.type,
        "gpu": torch.cuda.get_device_name(where) if where.type == "cuda" else None,
        "gemm_gflops": round(gemm_gflops(where), 1),
        "shape": {
            "batch": batch,
            "content": content,
            "words": words,
            "P": 256,
            "A": 1,
            "embedding": 300,
            "aux_tasks": 16,
            "epoch_talkturns": epoch_talkturns,
            "threads": torch.get_num_threads(),
            "compiled_attention": compiled,
        },
    }


def _weighting_lines(costs: dict[str, float]) -> list[str]:
    """One line per loss weighting: its epoch's seconds and its cost against the fixed weights."""
    if not costs:
        return []
    fixed = costs["fixed"]
    lines = ["loss weightings, one epoch of 2000 talkturns at the quick profile's size (P 32, A 1, 16 targets):"]
    for name, seconds in costs.items():
        lines.append(f"  {name}: {seconds:.2f} s, {seconds / fixed:.2f}x the fixed weights")
    return lines


def report(figures: dict) -> str:
    ref = figures["reference_talkturns_per_s"]
    where = figures["device"] + (f" ({figures['gpu']})" if figures.get("gpu") else "")
    lines = [f"device: {where}; default biGRU recurrence here: {figures['gru']}"]
    for name, f in figures["backends"].items():
        lines += [
            f"engine, gru {name}: {f['engine_talkturns_per_s']:.1f} training talkturns/s "
            f"(batch {figures['shape']['batch']}, content {figures['shape']['content']}, P 256, A 1, embedding 300)"
            + (f", {f['speedup']:.2f}x the reference" if ref else ""),
            f"  epoch of {figures['shape']['epoch_talkturns']} talkturns: content 1 {f['epoch_s_content1']:.2f} s, "
            f"content 30 {f['epoch_s_content30']:.2f} s, ratio {f['content_ratio']:.2f} (target <= 3.5); "
            f"{f['gflops']:.1f} GFLOP/s of useful work",
        ]
    lines += [
        f"reference: {ref:.1f} talkturns/s; speedup of the default ({figures['gru']}) "
        f"{figures['speedup']:.2f}x (target >= 8)"
        if ref
        else "reference: not found (pass --reference PATH); engine figures only",
        *_weighting_lines(figures.get("weighting_epoch_s") or {}),
        f"GEMM {figures['gemm_gflops']:.1f} GFLOP/s on {figures['shape']['threads']} threads; "
        f"compiled attention kernel: {figures['shape']['compiled_attention']}",
    ]
    return "\n".join(lines)
