"""Report plots: learning curve, forest plot, MI ranking.

Each plot is written as a PNG file under `$HANROCK_HOME/reports/plots/` (atomically) and the
same bytes can be embedded in Markdown, which is how the Dagster UI shows them.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .io import atomic_path  # noqa: E402
from .metrics import METRIC_LABELS  # noqa: E402


def save_png(fig, path: str | Path, dpi: int = 80) -> bytes:
    """Write the figure to `path` as PNG (atomically), close it, and return the bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def png_markdown(png: bytes, alt: str) -> str:
    """A Markdown image holding the PNG itself (no file server needed)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def learning_curve(curve: pd.DataFrame, title: str, metric: str):
    """Dev and test metric per epoch of one trial."""
    fig, ax = plt.subplots(figsize=(4.5, 2.8))
    ax.plot(curve["epoch"], curve["dev_value"], marker="o", label="dev")
    ax.plot(curve["epoch"], curve["test_value"], marker="s", label="test")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(title, fontsize=9)
    ax.legend()
    return fig


def forest_plot(significance: pd.DataFrame, title: str):
    """Challenger - baseline with its 95% interval per dataset.task and comparison (filled = significant)."""
    rows = significance.reset_index(drop=True)
    labels = [f"{r.dataset}.{r.task} {r.challenger} vs {r.baseline}" for r in rows.itertuples()]
    diff = rows["challenger_value"] - rows["baseline_value"]
    fig, ax = plt.subplots(figsize=(6, 0.28 * len(rows) + 1.2))
    for i, r in enumerate(rows.itertuples()):
        ax.plot([r.ci_low, r.ci_high], [i, i], color="tab:blue")
        ax.plot(diff[i], i, "o", color="tab:blue", fillstyle="full" if r.significant else "none")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("challenger - baseline (" + "; ".join(
        f"{METRIC_LABELS.get(m, m)}: {'lower' if m == 'mae' else 'higher'} is better"
        for m in dict.fromkeys(rows["metric"])) + ")", fontsize=8)
    ax.set_title(title, fontsize=9)
    return fig


def mi_ranking(mi: pd.DataFrame, title: str):
    """Mutual information of each auxiliary target with the primary target, highest first."""
    ordered = mi.sort_values("mi")
    fig, ax = plt.subplots(figsize=(4.5, 0.22 * len(ordered) + 1.0))
    ax.barh(ordered["task"], ordered["mi"], color="tab:green")
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("mutual information (train)")
    ax.set_title(title, fontsize=9)
    return fig


def plot_dir(home: str | Path) -> Path:
    return Path(home) / "reports" / "plots"


__all__ = ["forest_plot", "learning_curve", "mi_ranking", "plot_dir", "png_markdown", "save_png"]
