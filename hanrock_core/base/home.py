"""The data directory (`$HANROCK_HOME`) and every path under it.

One object names them all, so a reader finds the layout here and nowhere else
(tests/test_architecture.py checks that no other module joins path segments under the home):

    results.duckdb                          the results database (hanrock_core/base/results.py)
    staged_results/<table>/<key>.parquet    result rows staged per partition (staged_results.py)
    studies/<h>/<dataset.task>.db           the Optuna studies of a partition (SQLite)
    studies/<h>/<dataset.task>.lock         held by the run that trains them (study_storage.py)
    studies/<h>/<dataset.task>.<kind>/<identity>/   trial files: predictions, states, replicates
    models/<h>/<dataset.task>/<condition>/  kept models of the partition's current studies (kept_model.py)
    models/<h>/<dataset.task>/superseded/<identity>/<condition>/   those of studies a later run replaced
    assets/<asset>/<partition>.parquet      table-valued Dagster assets
    reports/attention/<dataset.task>.html   attention reports; reports/models/ their checkpoints
    reports/plots/                          every plot of the UI as a PNG
    synthetic/<corpus>-scale<s>-seed<n>/    the generated synthetic corpora
    calibration/<dataset.task>/             `hanrock calibrate`: its tables, and its seed runs per inputs
    .slots/                                 the machine's worker-slot locks (worker_pool.py)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class TrialFiles:
    """Where the trials of one partition's studies (one identity) keep their test predictions, their
    chosen-epoch states until the search is over, and their seed replicates; every file name is made here."""

    predictions: Path
    states: Path
    replicates: Path
    # conditions whose trials another hypothesis's study trained (study/condition_reuse.py): (condition,
    # the lender's files, the condition's name there); their files are read where the lender wrote them
    lent: tuple[tuple[str, TrialFiles, str], ...] = ()

    def lending(self, condition: str, files: TrialFiles, there: str) -> TrialFiles:
        """These files, with `condition`'s read from `files` (another study's), where it is named `there`."""
        return replace(self, lent=(*self.lent, (condition, files, there)))

    def _at(self, condition: str) -> tuple[TrialFiles, str]:
        """The files and the name that hold `condition`'s trials: another study's when it lent them."""
        for name, files, there in self.lent:
            if name == condition:
                return files, there
        return self, condition

    def trial_predictions(self, condition: str, slot: int) -> Path:
        """The test predictions of trial `slot` of a condition (its chosen epoch's)."""
        files, condition = self._at(condition)
        return files.predictions / f"{condition}-{slot}.parquet"

    def trial_outputs(self, condition: str, slot: int) -> Path:
        """The dev and test primary outputs of trial `slot` (probabilities or values): what an ensemble averages."""
        files, condition = self._at(condition)
        return files.predictions / f"{condition}-{slot}.outputs.parquet"

    def trial_state(self, condition: str, slot: int) -> Path:
        """The chosen epoch's state of a trial, kept while it may still be selected."""
        files, condition = self._at(condition)
        return files.states / f"{condition}-{slot}.pt"

    def replicate_row(self, condition: str, slot: int, replicate: int) -> Path:
        """Seed replicate k of a condition's selected trial: its result row (written last: the replicate is done)."""
        files, condition = self._at(condition)
        return files.replicates / f"{condition}-{slot}-{replicate}.json"

    def replicate_predictions(self, condition: str, slot: int, replicate: int) -> Path:
        """The test predictions of seed replicate k."""
        files, condition = self._at(condition)
        return files.replicates / f"{condition}-{slot}-{replicate}.parquet"

    def replicate_outputs(self, condition: str, slot: int, replicate: int) -> Path:
        """The dev and test primary outputs of seed replicate k."""
        files, condition = self._at(condition)
        return files.replicates / f"{condition}-{slot}-{replicate}.outputs.parquet"

    def replicate_state(self, condition: str, slot: int, replicate: int) -> Path:
        """The chosen epoch's state of seed replicate k: a member of the kept model's seed ensemble."""
        files, condition = self._at(condition)
        return files.replicates / f"{condition}-{slot}-{replicate}.pt"


@dataclass(frozen=True)
class ModelFiles:
    """The files of one kept model folder (under `Home.models` or wherever a user copied it), named here."""

    folder: Path

    WEIGHTS, VOCABULARY, CARD, SUMS = "weights.pt", "vocabulary.txt", "model.json", "SHA256SUMS"
    SUMMED = (WEIGHTS, VOCABULARY, CARD)  # the files SHA256SUMS lists

    @property
    def weights(self) -> Path:
        """The state_dict (read back with torch.load(..., weights_only=True))."""
        return Path(self.folder) / self.WEIGHTS

    @property
    def vocabulary(self) -> Path:
        """One word per line: line k holds the word of id k."""
        return Path(self.folder) / self.VOCABULARY

    @property
    def card(self) -> Path:
        """The model card (JSON)."""
        return Path(self.folder) / self.CARD

    @property
    def sums(self) -> Path:
        """SHA-256 of the other files (`sha256sum -c SHA256SUMS`)."""
        return Path(self.folder) / self.SUMS

    @staticmethod
    def seed_weights_name(k: int) -> str:
        """The state_dict of seed k (1, 2, ...) of the seed ensemble; the selected trial is `weights.pt`."""
        return f"seed-{k}.pt"

    def file(self, name: str) -> Path:
        """A file of the folder by name (as SHA256SUMS lists it)."""
        return Path(self.folder) / name


@dataclass(frozen=True)
class ReportCheckpoints:
    """The models an attention report trained: a manifest and one checkpoint per model."""

    folder: Path

    @property
    def manifest(self) -> Path:
        """Fingerprint of the inputs and each checkpoint's SHA-256 (JSON)."""
        return Path(self.folder) / "models.json"

    def checkpoint(self, name: str) -> Path:
        """The state_dict of model `name` (mtl, stl)."""
        return Path(self.folder) / f"{name}.pt"


@dataclass(frozen=True)
class Home:
    """The data directory; each method names one kind of file or folder in it."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    def __str__(self) -> str:
        return str(self.root)

    # --- caches
    @property
    def word_vectors_cache(self) -> Path:
        """Word vectors learnt from a corpus's train text, by digest (corpus_vectors.py)."""
        return self.root / "cache" / "word_vectors"

    # --- results
    @property
    def results_db(self) -> Path:
        return self.root / "results.duckdb"

    @property
    def staged_results(self) -> Path:
        return self.root / "staged_results"

    def staged_file(self, table: str, key: dict[str, str]) -> Path:
        """hypothesis, dataset, task, identity (those the key has) make the name: one file per partition's rows."""
        return self.staged_results / table / (".".join(str(v) for v in key.values()) + ".parquet")

    # --- studies and their trials
    @property
    def studies(self) -> Path:
        return self.root / "studies"

    def study_db(self, hypothesis: str, key: str) -> Path:
        """The SQLite file of a hypothesis x dataset.task's Optuna studies."""
        return self.studies / hypothesis / f"{key}.db"

    def study_lock(self, hypothesis: str, key: str) -> Path:
        """The lock a run holds while it trains a hypothesis x dataset.task (it names the run inside)."""
        return self.studies / hypothesis / f"{key}.lock"

    def trial_files(self, hypothesis: str, key: str, identity: str) -> TrialFiles:
        base = self.studies / hypothesis
        return TrialFiles(*(base / f"{key}.{kind}" / identity for kind in ("predictions", "states", "replicates")))

    # --- calibration of the significance methods
    def calibration_study(self, key: str, fingerprint: str, study: int) -> Path:
        """The data folder of study `study` of `hanrock calibrate` on one dataset.task and inputs."""
        return self.root / "calibration" / key / fingerprint / f"study-{study}"

    def ablation(self, key: str, fingerprint: str) -> TrialFiles:
        """The seed runs of one change of `hanrock ablate` on one dataset.task (by the inputs' identity)."""
        base = self.root / "ablation" / key / fingerprint
        return TrialFiles(base / "predictions", base / "states", base / "runs")

    def calibration_report(self, key: str) -> Path:
        """Where the calibrations of a dataset.task write their tables: a folder each, named by its arguments."""
        return self.root / "calibration" / key

    # --- kept models
    @property
    def models(self) -> Path:
        return self.root / "models"

    def model_dir(self, hypothesis: str, key: str, condition: str | None = None) -> Path:
        """`models/<h>/<dataset.task>[/<condition>]`."""
        folder = self.models / hypothesis / key
        return folder / condition if condition else folder

    def superseded_model_dir(self, hypothesis: str, key: str, identity: str, condition: str) -> Path:
        """Where the kept model of a superseded study waits, in case a run returns to its inputs."""
        return self.model_dir(hypothesis, key) / "superseded" / identity / condition

    def model_named(self, name: str | Path) -> Path:
        """A kept model given as `h1/iemocap.emotion/aphf` (relative to `models/`)."""
        return self.models / name

    # --- assets
    @property
    def assets(self) -> Path:
        return self.root / "assets"

    def asset_file(self, asset: str, partition: str | None) -> Path:
        """The Parquet file of one partition of a table-valued asset (`all` for an unpartitioned one)."""
        name = re.sub(r"[^A-Za-z0-9._-]", "_", partition) if partition else "all"
        return self.assets / asset / f"{name}.parquet"

    # --- reports and plots
    def attention_page(self, key: str) -> Path:
        return self.root / "reports" / "attention" / f"{key}.html"

    def report_models(self, key: str) -> Path:
        """Where an attention report keeps the checkpoints it trained."""
        return self.root / "reports" / "models" / key

    @property
    def plots(self) -> Path:
        return self.root / "reports" / "plots"

    def plot(self, *parts: str) -> Path:
        """A plot's PNG, e.g. plot("h1", "forest.png")."""
        return self.plots.joinpath(*parts)

    # --- synthetic corpora
    def synthetic_corpus(self, corpus: str, scale: float, seed: int) -> Path:
        return self.root / "synthetic" / f"{corpus}-scale{scale:g}-seed{seed}"

    # --- worker slots
    @property
    def slots(self) -> Path:
        return self.root / ".slots"

    @property
    def waiting_steps(self) -> Path:
        return self.slots / "waiting"


__all__ = ["Home", "TrialFiles"]
