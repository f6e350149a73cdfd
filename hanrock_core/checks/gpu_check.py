"""The GPU check: everything a first GPU session should measure, in one run (`scripts/gpu_check.sh`).

Four parts, each writing its figures under one output folder and failing loudly on a mismatch:

1. equivalence: the device's cases of the model tests (both recurrences, outputs and gradients equal the
   plain per-sample model), run by pytest;
2. bench: `hanrock bench` on the device (both recurrences, the reference step where its file is at hand);
3. paper shape: one epoch of training (and its dev/test evaluation) at the `paper` profile's shape on the
   full-scale synthetic IEMOCAP, content sizes 1 and 30, both recurrences, with and without auxiliary
   encoders, and the projected wall time of `paper_study` on one such device;
4. study: a small quick-profile H1 study of iemocap.emotion through the core library (no Dagster), whose
   kept model must predict exactly the stored test predictions.

`--tiny` shrinks every part (a small corpus, few steps, a two-trial profile) so that CI can run the
whole check on a CPU in a minute or two: the script cannot rot before a GPU is at hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hanrock_core.base.errors import InputError

REPO = Path(__file__).resolve().parents[2]
PAPER_STUDY_TASKS = 8  # IEMOCAP: emotion, valence, activation, dominance; SEMAINE: four traces
PAPER_STUDY_CONDITIONS = 11  # H1: 3, H2: 6, H3: 2
CONTENT_SIZES = (1, 30)  # Table 6's range of content sizes: its two ends


class CheckFailed(RuntimeError):
    """A part of the check found a mismatch (the message says which and where the figures are)."""


@dataclass(frozen=True)
class Scale:
    """How big each part is: the real check on a GPU, or the tiny dry run."""

    corpus: float  # synthetic IEMOCAP scale of the paper-shape epoch
    study_corpus: float  # of the small study
    bench_steps: int
    bench_epoch_talkturns: int
    max_epoch_talkturns: int | None  # talkturns per split in the timed epochs (None: every one)
    study_profile: str  # a packaged profile or YAML text
    compile: str | None = None  # the timed epochs' torch.compile setting (None: the paper profile's)


TINY_PROFILE = """name: gpu-check-tiny
trials_per_condition: 2
epochs: 2
capacity_total: 5
h2_primary_units: [4, 1]
default_primary_units: 4
embedding_dim: 8
optimizer: adam
sampler: chunks
median_pruning: {first_epoch: 5, every: 2}
space: {content_size: [1, 2], batch_size: [16, 32]}
"""

FULL = Scale(1.0, 0.1, 8, 5766, None, "quick")
TINY = Scale(0.05, 0.03, 1, 48, 48, TINY_PROFILE, compile="off")


# --- 1. equivalence ---------------------------------------------------------------------------------


def equivalence(device: str, out: Path, log) -> dict:
    """The device's cases of tests/test_model.py (both recurrences), as pytest runs them; fails on any failure."""
    report = out / "equivalence.xml"
    command = [
        sys.executable, "-m", "pytest", str(REPO / "tests" / "test_model.py"), "-q", "-p", "no:cacheprovider",
        "-o", "addopts=", "-k", f"fast_path and {device}", f"--junitxml={report}",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    (out / "equivalence.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    counts = _junit_counts(report)
    log(f"equivalence on {device}: {counts} in {time.perf_counter() - started:.0f} s")
    if done.returncode != 0 or counts["passed"] == 0:
        raise CheckFailed(f"equivalence tests on {device} failed or ran none ({counts}): see {out / 'equivalence.log'}")
    return counts


def _junit_counts(report: Path) -> dict:
    """passed / failed / skipped of a pytest JUnit XML file."""
    import xml.etree.ElementTree as ET

    if not report.exists():
        return {"passed": 0, "failed": 0, "skipped": 0}
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    total, failed = int(suite.get("tests", 0)), int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    skipped = int(suite.get("skipped", 0))
    return {"passed": total - failed - skipped, "failed": failed, "skipped": skipped}


# --- 2. bench ---------------------------------------------------------------------------------------


def bench(device: str, scale: Scale, reference: Path | None, out: Path, log) -> dict:
    """`hanrock bench --device D --json` in-process: both recurrences and, where its file is, the reference."""
    from hanrock_core.checks.bench import report, run

    figures = run(
        reference=reference, steps=scale.bench_steps, epoch_talkturns=scale.bench_epoch_talkturns, device=device
    )
    (out / "bench.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    log(report(figures))
    return figures


# --- 3. the paper's shape ---------------------------------------------------------------------------


def paper_partition(scale: Scale, work: Path, seed: int = 0):
    """iemocap.emotion of the synthetic IEMOCAP at `scale`, with MONAH narratives and all sixteen auxiliary targets."""
    from hanrock_core.preparation.auxiliary_target import build_auxiliary_targets
    from hanrock_core.preparation.mi_loss_weights import mutual_information
    from hanrock_core.preparation.narrative import narrative_table
    from hanrock_core.reading.corpora import read_iemocap
    from hanrock_core.reading.synthetic import generate
    from hanrock_core.study.partition_data import PartitionData

    root = work / f"iemocap-{scale.corpus:g}"
    if not root.exists():
        generate("iemocap", root, scale=scale.corpus, seed=seed)
    table = read_iemocap(root)
    targets = build_auxiliary_targets(table, "emotion")
    inputs = narrative_table(table).set_index("utterance_id")["model_input"]
    return root, PartitionData.build("iemocap", "emotion", table, inputs, targets, mutual_information(targets))


SLOW_EPOCH_S = 45.0  # a first epoch slower than this is taken as the figure (no second one: the time budget)
PAPER_SHAPE_BUDGET_S = 300.0  # the paper-shape part stops starting new configurations after this


def epoch_seconds(part, config, max_talkturns: int | None) -> dict:
    """Wall seconds of the second epoch of one training run (the first pays for allocation and autotuning):
    training on the train split plus the dev and test evaluation a trial does every epoch.  A first
    epoch over SLOW_EPOCH_S is reported as it is (`timed`: "first epoch")."""
    from hanrock_core.learning.training import train

    data = part.data
    if max_talkturns is not None:  # the dry run: the first talkturns of each split only
        keep = np.ones(len(data.split), dtype=bool)
        for split in ("train", "dev", "test"):
            keep[np.flatnonzero(data.split == split)[max_talkturns:]] = False
        data = replace(data, split=np.where(keep, data.split, "unused"))
    stamps = [time.perf_counter()]

    def on_epoch(epoch: int, metrics: dict) -> bool:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())
        return stamps[1] - stamps[0] > SLOW_EPOCH_S  # stop: one slow epoch is figure enough

    weights = np.full(1 + len(data.aux_names), 1.0 / (1 + len(data.aux_names)))
    train(data, replace(config, epochs=2), weights, on_epoch=on_epoch)
    first = stamps[1] - stamps[0]
    if len(stamps) < 3:
        return {"first_epoch_s": first, "epoch_s": first, "timed": "first epoch"}
    return {"first_epoch_s": first, "epoch_s": stamps[2] - stamps[1], "timed": "second epoch"}


def paper_shape(device: str, scale: Scale, work: Path, out: Path, log) -> dict:
    """One epoch at the paper's shape per recurrence x content size x auxiliary encoders, and the projection."""
    from hanrock_core.learning.train_config import TrainConfig
    from hanrock_core.study.profiles import load_profile

    paper = load_profile("paper")
    _, part = paper_partition(scale, work)
    train_talkturns = int((part.data.split == "train").sum())
    log(f"paper shape: synthetic IEMOCAP at scale {scale.corpus:g}, {train_talkturns} train talkturns, "
        f"{len(part.data.aux_names)} auxiliary targets")  # fmt: skip
    rows, started = [], time.perf_counter()
    order = ("torch", "fused") if device == "cuda" else ("fused", "torch")  # the device's default first
    for gru in order:
        for content in CONTENT_SIZES:
            for aux_units in (1, 0):  # with the auxiliary encoders (P 256 + A 1), without (P 257, A 0)
                if time.perf_counter() - started > PAPER_SHAPE_BUDGET_S:
                    log(f"  gru {gru}, content {content}, A {aux_units}: not timed (the part's "
                        f"{PAPER_SHAPE_BUDGET_S:.0f} s are spent)")  # fmt: skip
                    continue
                config = TrainConfig(
                    architecture="han_rock", primary_units=paper.capacity_total - aux_units, aux_units=aux_units,
                    capacity_total=paper.capacity_total, embedding_dim=paper.embedding_dim, optimizer=paper.optimizer,
                    sampler=paper.sampler, batch_size=43, content_size=content, learning_rate=2.0**-7,
                    dropout=0.1, recurrent_dropout=0.1, device=device, gru=gru, compile=scale.compile or paper.compile,
                )  # fmt: skip
                timed = epoch_seconds(part, config, scale.max_epoch_talkturns)
                rows.append({"gru": gru, "content_size": content, "aux_encoders": bool(aux_units), **timed})
                log(f"  gru {gru}, content {content}, auxiliary encoders {'yes' if aux_units else 'no'}: "
                    f"{timed['epoch_s']:.2f} s per epoch (first {timed['first_epoch_s']:.2f} s)")  # fmt: skip
    epochs = pd.DataFrame(rows)
    epochs.to_csv(out / "paper_epochs.csv", index=False)
    projection = project_paper_study(epochs, paper)
    if scale.max_epoch_talkturns is not None:  # the dry run's epochs are a few talkturns: say so
        projection["text"] = (
            f"(dry run: epochs of {scale.max_epoch_talkturns} talkturns per split, so the hours below mean "
            "nothing) " + projection["text"]
        )
    log(projection["text"])
    return {"train_talkturns": train_talkturns, "epochs": rows, "projection": projection}


def expected_epochs(paper) -> tuple[float, str]:
    """Epochs a paper trial runs on average under median stopping, and the assumption behind the number."""
    first, total = paper.median_pruning["first_epoch"], paper.epochs
    mean = 0.5 * first + 0.5 * total
    why = (
        f"half of the trials are stopped at the first median check (epoch {first}) and half run all {total} "
        "epochs (median stopping prunes a trial below the median of earlier trials; later checks stop some "
        "of the second half too, so this is an upper estimate)"
    )
    return mean, why


def project_paper_study(epochs: pd.DataFrame, paper) -> dict:
    """Projected wall time of `paper_study` on one such device, trials one after another, per recurrence."""
    mean_epochs, why = expected_epochs(paper)
    trials = PAPER_STUDY_TASKS * PAPER_STUDY_CONDITIONS * paper.trials_per_condition
    by_gru = {}
    for gru, part in epochs.groupby("gru"):
        with_aux = part[part["aux_encoders"]]["epoch_s"].mean()  # content sizes 1 and 30: the mean of the range
        without = part[~part["aux_encoders"]]["epoch_s"].mean()
        if pd.isna(with_aux) or pd.isna(without) or part["content_size"].nunique() < len(CONTENT_SIZES):
            continue  # not every shape of this recurrence was timed (the time budget): no projection
        per_trial = mean_epochs * ((PAPER_STUDY_CONDITIONS - 1) * with_aux + without) / PAPER_STUDY_CONDITIONS
        by_gru[gru] = {"trial_s": round(per_trial, 1), "study_hours": round(trials * per_trial / 3600, 1)}
    if not by_gru:
        return {"trials": trials, "mean_epochs": mean_epochs, "assumption": why, "by_gru": {}, "best_gru": None,
                "text": "no projection: no recurrence was timed at every shape within the time budget"}  # fmt: skip
    best = min(by_gru, key=lambda g: by_gru[g]["study_hours"])
    text = (
        f"projected paper_study on one device: {by_gru[best]['study_hours']:.1f} h with gru {best} "
        + ", ".join(f"({g}: {v['study_hours']:.1f} h)" for g, v in by_gru.items() if g != best)
        + f"; {trials} trials ({PAPER_STUDY_TASKS} tasks x {PAPER_STUDY_CONDITIONS} conditions x "
        f"{paper.trials_per_condition}) one at a time, {mean_epochs:.1f} epochs each on average ({why}); every "
        "task's epoch costed as IEMOCAP's train split (SEMAINE's is smaller); content sizes drawn evenly from "
        "1-30 (their epoch times averaged); 1 of the 11 conditions without auxiliary encoders"
    )
    return {"trials": trials, "mean_epochs": mean_epochs, "assumption": why, "by_gru": by_gru, "best_gru": best,
            "text": text}  # fmt: skip


# --- 4. a small study and its kept model ------------------------------------------------------------


def small_study(device: str, scale: Scale, work: Path, out: Path, log) -> dict:
    """A quick H1 study of iemocap.emotion through the core library; its kept `aphf` model must give exactly
    the stored test predictions."""
    from hanrock_core.base.home import Home
    from hanrock_core.base.results import query
    from hanrock_core.learning.kept_model import open_model
    from hanrock_core.learning.prediction import predict_talkturns
    from hanrock_core.reading.corpora import read_iemocap
    from hanrock_core.study.profiles import load_profile
    from hanrock_core.study.search import run_hypothesis
    from hanrock_core.study.selection import selected_trials

    profile_path = work / "study-profile.yaml"
    if "\n" in scale.study_profile:
        profile_path.write_text(scale.study_profile, encoding="utf-8")
        profile = load_profile(profile_path)
    else:
        profile = load_profile(scale.study_profile)
    part_scale = replace(scale, corpus=scale.study_corpus)
    root, part = paper_partition(part_scale, work)
    home = Home(work / "home")
    started = time.perf_counter()
    rows = run_hypothesis(part, profile, "h1", home, log=log)
    seconds = time.perf_counter() - started
    chosen = selected_trials(rows[rows["condition"] != "floor"])
    folder = home.model_dir("h1", "iemocap.emotion", "aphf")
    predicted = predict_talkturns(open_model(folder), read_iemocap(root), split="test", device=device)
    stored = query(
        home.results_db,
        "SELECT utterance_id, prediction FROM predictions WHERE condition = 'aphf' AND trial = ?",
        [chosen["aphf"]],
        log=lambda m: None,
    )
    mine = predicted.set_index("utterance_id").loc[stored["utterance_id"], "prediction"]
    differ = int((mine.to_numpy() != stored["prediction"].to_numpy()).sum())
    summary = {
        "profile": profile.name,
        "seconds": round(seconds, 1),
        "trials": int((rows["condition"] != "floor").sum()),
        "selected": {k: int(v) for k, v in chosen.items()},
        "test_predictions": len(stored),
        "differing_predictions": differ,
    }
    log(f"small study: {summary['trials']} trials in {seconds:.0f} s; kept aphf model: {differ} of "
        f"{len(stored)} test predictions differ from the stored ones")  # fmt: skip
    if differ or len(stored) == 0:
        raise CheckFailed(f"the kept model's predictions differ from the stored ones in {differ} of {len(stored)}")
    return summary


# --- the whole check --------------------------------------------------------------------------------


def environment(device: str) -> dict:
    """What the figures were measured on."""
    where = torch.device(device)
    return {
        "device": device,
        "gpu": torch.cuda.get_device_name(where) if where.type == "cuda" else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if where.type == "cuda" else None,
        "python": platform.python_version(),
        "cpu_threads": torch.get_num_threads(),
        "host": platform.node(),
    }


def run_check(device: str, tiny: bool, out: Path, reference: Path | None, log=print) -> dict:
    """Every part in turn (a failed part is recorded and the others still run); the summary JSON and
    the text report are written even when a part fails, and the check then fails."""
    scale = TINY if tiny else FULL
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    work.mkdir(exist_ok=True)
    results: dict = {"environment": environment(device), "tiny": tiny, "parts": {}}
    lines: list[str] = []

    def say(message: str) -> None:
        lines.append(message)
        log(message)

    say(f"GPU check on {device}{' (tiny dry run)' if tiny else ''}: {results['environment']}")
    parts = {
        "equivalence": lambda: equivalence(device, out, say),
        "bench": lambda: bench(device, scale, reference, out, say),
        "paper_shape": lambda: paper_shape(device, scale, work, out, say),
        "small_study": lambda: small_study(device, scale, work, out, say),
    }
    failures = []
    for name, part in parts.items():
        started = time.perf_counter()
        try:
            results["parts"][name] = {"ok": True, "figures": part()}
        except (CheckFailed, InputError) as exc:
            failures.append(f"{name}: {exc}")
            results["parts"][name] = {"ok": False, "error": str(exc)}
            say(f"FAILED {name}: {exc}")
        results["parts"][name]["seconds"] = round(time.perf_counter() - started, 1)
        say(f"{name}: {'ok' if results['parts'][name]['ok'] else 'FAILED'} in {results['parts'][name]['seconds']} s")
    results["ok"] = not failures
    (out / "gpu_check.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    (out / "report.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if failures:
        raise CheckFailed("; ".join(failures))
    return results


def _default_reference() -> Path | None:
    """The plain reference step where a checkout has it (inside the tree on a GPU machine, beside it here)."""
    for candidate in (
        REPO / "shared" / "bench" / "reference_hanrock.py",
        REPO.parent / "shared" / "bench" / "reference_hanrock.py",
    ):  # noqa: E501
        if candidate.exists():
            return candidate
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a dry run: small corpus, few steps, two trials")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-check")))
    parser.add_argument("--reference", type=Path, default=None, help="reference_hanrock.py (default: shared/bench/)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: error: --device cuda, but this PyTorch sees no CUDA device\n"
              "  -> run it on a GPU machine, or use --device cpu --tiny for the dry run", file=sys.stderr)  # fmt: skip
        return 2
    try:
        run_check(args.device, args.tiny, args.out, args.reference or _default_reference())
    except CheckFailed as exc:
        print(f"gpu_check: FAILED: {exc}\n  -> the figures so far are in {args.out}", file=sys.stderr)
        return 1
    print(f"gpu_check: every part passed; figures in {args.out}/gpu_check.json and {args.out}/report.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
