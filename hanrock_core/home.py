"""The data directory (`$HANROCK_HOME`) and every path under it.

One object names them all, so a reader finds the layout here and nowhere else
(tests/test_architecture.py checks that no other module joins path segments under the home):

    results.duckdb                          the results database (hanrock_core/results.py)
    staged_results/<table>/<key>.parquet    result rows staged per partition (staged_results.py)
    studies/<h>/<dataset.task>.db           the Optuna studies of a partition (SQLite)
    studies/<h>/<dataset.task>.<kind>/<identity>/   trial files: predictions, states, replicates
    models/<h>/<dataset.task>/<condition>/  kept models (kept_model.py)
    assets/<asset>/<partition>.parquet      table-valued Dagster assets
    reports/attention/<dataset.task>.html   attention reports; reports/models/ their checkpoints
    reports/plots/                          every plot of the UI as a PNG
    synthetic/<corpus>-scale<s>-seed<n>/    the generated synthetic corpora
    .slots/                                 the machine's worker-slot locks (worker_pool.py)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrialFiles:
    """Where the trials of one partition's studies (one identity) keep their test predictions, their
    chosen-epoch states until the search is over, and their seed replicates."""

    predictions: Path
    states: Path
    replicates: Path


@dataclass(frozen=True)
class Home:
    """The data directory; each method names one kind of file or folder in it."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    def __str__(self) -> str:
        return str(self.root)

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

    def trial_files(self, hypothesis: str, key: str, identity: str) -> TrialFiles:
        base = self.studies / hypothesis
        return TrialFiles(*(base / f"{key}.{kind}" / identity for kind in ("predictions", "states", "replicates")))

    # --- kept models
    @property
    def models(self) -> Path:
        return self.root / "models"

    def model_dir(self, hypothesis: str, key: str, condition: str | None = None) -> Path:
        """`models/<h>/<dataset.task>[/<condition>]`."""
        folder = self.models / hypothesis / key
        return folder / condition if condition else folder

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
