"""Small plots embedded in materialisation metadata (Markdown images, no files needed)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def png_markdown(fig, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return f"![{alt}](data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()})"


def learning_curve_md(curve: pd.DataFrame, title: str, metric: str) -> str:
    """Dev and test metric per epoch of one trial."""
    fig, ax = plt.subplots(figsize=(4.5, 2.8))
    ax.plot(curve["epoch"], curve["dev_value"], marker="o", label="dev")
    ax.plot(curve["epoch"], curve["test_value"], marker="s", label="test")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(title, fontsize=9)
    ax.legend()
    return png_markdown(fig, f"learning curve {title}")


def forest_plot_md(significance: pd.DataFrame, title: str) -> str:
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
    ax.set_xlabel("challenger - baseline (MA(4): higher is better; MAE: lower is better)", fontsize=8)
    ax.set_title(title, fontsize=9)
    return png_markdown(fig, title)


def mi_ranking_md(mi: pd.DataFrame, title: str) -> str:
    """Mutual information of each auxiliary target with the primary target, highest first."""
    ordered = mi.sort_values("mi")
    fig, ax = plt.subplots(figsize=(4.5, 0.22 * len(ordered) + 1.0))
    ax.barh(ordered["task"], ordered["mi"], color="tab:green")
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("mutual information (train)")
    ax.set_title(title, fontsize=9)
    return png_markdown(fig, title)
