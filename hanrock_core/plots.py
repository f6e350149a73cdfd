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


def learning_curves(curves: pd.DataFrame, title: str, metric: str):
    """Dev (solid) and test (dashed) metric per epoch of each condition's selected trial, one colour each.

    `curves`: columns condition, trial, epoch, dev_value, test_value."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for k, (condition, curve) in enumerate(curves.groupby("condition", sort=False)):
        colour = f"C{k}"
        label = f"{condition} (trial {int(curve['trial'].iloc[0])})"
        ax.plot(curve["epoch"], curve["dev_value"], color=colour, marker="o", ms=3, label=label)
        ax.plot(curve["epoch"], curve["test_value"], color=colour, ls="--", lw=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{METRIC_LABELS.get(metric, metric)} (solid: dev, dashed: test)", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return fig


def gains(significance: pd.DataFrame) -> pd.DataFrame:
    """Each comparison's effect signed so that positive means the challenger is better, whatever the
    metric's direction (an MAE difference is negated), with its 95% interval; floor comparisons marked."""
    rows = significance.reset_index(drop=True)
    sign = rows["higher_better"].map({True: 1.0, False: -1.0})
    diff = rows["challenger_value"] - rows["baseline_value"]
    low = (rows["ci_low"] * sign).where(sign > 0, rows["ci_high"] * sign)
    high = (rows["ci_high"] * sign).where(sign > 0, rows["ci_low"] * sign)
    return rows.assign(gain=diff * sign, gain_low=low, gain_high=high, against_floor=rows["baseline"].eq("floor"))


def forest_plot(significance: pd.DataFrame, title: str):
    """Challenger - baseline with its 95% interval, signed so that right is always better (filled = significant);
    the hypothesis's own comparisons in one panel, those against the bag-of-words floor in another."""
    rows = gains(significance)
    panels = [
        (f"{title}: the hypothesis's comparisons", rows[~rows["against_floor"]]),
        ("against the bag-of-words floor (not in the paper)", rows[rows["against_floor"]]),
    ]
    panels = [(name, part) for name, part in panels if len(part)]
    heights = [max(1, len(part)) for _, part in panels]
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(6.5, 0.26 * sum(heights) + 1.4 * len(panels)),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    for ax, (name, part) in zip(axes[:, 0], panels):
        for i, r in enumerate(part.itertuples()):
            colour = "tab:blue" if r.gain >= 0 else "tab:red"
            ax.plot([r.gain_low, r.gain_high], [i, i], color=colour)
            ax.plot(r.gain, i, "o", color=colour, fillstyle="full" if r.significant else "none")
        labels = [f"{r.dataset}.{r.task} {r.challenger} vs {r.baseline}" for r in part.itertuples()]
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(range(len(part)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(name, fontsize=9)
    metrics = ", ".join(f"{METRIC_LABELS.get(m, m)}" for m in dict.fromkeys(rows["metric"]))
    axes[-1, 0].set_xlabel(
        f"how much better the challenger is ({metrics}; MAE differences negated): right is better", fontsize=8
    )
    fig.tight_layout()
    return fig


def text_interval(low: float, mid: float, high: float, scale: float, significant: bool, width: int = 21) -> str:
    """A one-line forest-plot row: the interval as a bar, the estimate as a dot, zero as a tick (right is better)."""
    scale = scale if scale > 0 else 1.0

    def at(value: float) -> int:
        return int(round((max(-scale, min(scale, value)) / scale + 1) / 2 * (width - 1)))

    cells = ["·"] * width
    for i in range(at(low), at(high) + 1):
        cells[i] = "─"
    cells[at(0.0)] = "┼" if cells[at(0.0)] == "─" else "│"
    cells[at(mid)] = "●" if significant else "○"
    return "".join(cells)


def mi_ranking(mi: pd.DataFrame, title: str):
    """Mutual information of each auxiliary target with the primary target, highest first."""
    ordered = mi.sort_values("mi")
    fig, ax = plt.subplots(figsize=(4.5, 0.22 * len(ordered) + 1.0))
    ax.barh(ordered["task"], ordered["mi"], color="tab:green")
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("mutual information (train)")
    ax.set_title(title, fontsize=9)
    return fig


__all__ = ["forest_plot", "gains", "learning_curves", "mi_ranking", "png_markdown", "save_png", "text_interval"]
