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

from hanrock_core.base.io import atomic_path  # noqa: E402
from hanrock_core.base.metrics import METRIC_LABELS  # noqa: E402


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
    if "difference" in rows:
        diff = rows["difference"].astype(float).fillna(diff)
    low = (rows["ci_low"] * sign).where(sign > 0, rows["ci_high"] * sign)
    high = (rows["ci_high"] * sign).where(sign > 0, rows["ci_low"] * sign)
    return rows.assign(gain=diff * sign, gain_low=low, gain_high=high, against_floor=rows["baseline"].eq("floor"))


# how the forest plot draws each method: (label in the legend, line width, vertical offset)
METHOD_STYLE = {
    "search": ("search test: every slot of both searches (the verdict)", 2.6, -0.05),
    "paired": ("seeds test: the selected configurations' seeds", 1.6, 0.15),
    "paper": ("paper's A.4: resampled trials", 0.8, 0.33),
}
METRIC_WORDS = {
    "balanced_accuracy": "balanced accuracy",
    "weighted_f1": "weighted F1",
    "macro_f1": "macro F1",
    "accuracy": "accuracy",
    "mae": "mean absolute error",
}
ANSWERING = ("search", "paired")  # the method whose verdict a row shows: the search test where there is one


def _rows_by_method(significance: pd.DataFrame) -> pd.DataFrame:
    """One row per comparison with each method's gain and interval side by side."""
    rows = gains(significance if "method" in significance else significance.assign(method="paper"))
    keys = ["hypothesis", "dataset", "task", "baseline", "challenger"]
    wide = rows.pivot_table(
        index=keys,
        columns="method",
        values=["gain", "gain_low", "gain_high", "significant"],
        aggfunc="first",
        sort=False,
    )
    wide.columns = [f"{value}_{method}" for value, method in wide.columns]
    extra = rows.drop_duplicates(keys).set_index(keys)[["metric", "against_floor"]]
    if "detectable_effect" in rows:
        tested = rows[rows["method"].isin(ANSWERING)].assign(order=lambda r: r["method"].map(ANSWERING.index))
        answer = tested.sort_values("order").drop_duplicates(keys).set_index(keys)
        columns = [c for c in ("detectable_effect", "p_value", "verdict", "margin") if c in answer]
        extra = extra.join(answer[columns])
    return wide.join(extra).reset_index()


FOREST_WIDTH_IN, FOREST_DPI = (
    3.0,
    115,
)  # about 340 pixels: it fits the significance page beside Dagster's panels at 1280


def forest_plot(significance: pd.DataFrame, title: str):
    """Challenger - baseline with its 95% interval under each method (thickest: the search test, the verdict
    between two searched conditions; middle: the selected configurations' seeds; thin: the paper's A.4), signed
    so that right is always better; filled = significant, blue = challenger better; the hypothesis's own
    comparisons in one panel, those against the bag-of-words floor in another, each on a scale fitted to its
    intervals.  Narrow (FOREST_WIDTH_IN at FOREST_DPI): each row's name and verdict are written above its
    lines, and the legend sits above the panels, so nothing needs the width of a y axis."""
    rows = _rows_by_method(significance)
    one = rows["dataset"].nunique() == 1 and rows["task"].nunique() == 1
    panels = [
        (f"{title}: the hypothesis's comparisons", rows[~rows["against_floor"]]),
        ("against the bag-of-words floor", rows[rows["against_floor"]]),
    ]
    panels = [(name, part) for name, part in panels if len(part)]
    heights = [max(1, len(part)) for _, part in panels]
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(FOREST_WIDTH_IN, 0.62 * sum(heights) + 0.7 * len(panels) + 1.3),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    for ax, (name, part) in zip(axes[:, 0], panels):
        reach = 0.0
        for i, r in enumerate(part.to_dict("records")):
            for method, (_, width, offset) in METHOD_STYLE.items():
                gain = r.get(f"gain_{method}")
                if gain is None or pd.isna(gain) or pd.isna(r.get(f"gain_low_{method}")):
                    continue
                low, high = r[f"gain_low_{method}"], r[f"gain_high_{method}"]
                reach = max(reach, abs(low), abs(high))
                colour = "tab:blue" if gain >= 0 else "tab:red"
                ax.plot([low, high], [i + offset, i + offset], color=colour, lw=width, solid_capstyle="butt")
                filled = bool(r.get(f"significant_{method}"))
                ax.plot(gain, i + offset, "o", ms=2 + width, color=colour, fillstyle="full" if filled else "none")
            where = "" if one else f"{r['dataset']}.{r['task']} "
            note = _row_note(r)
            ax.text(
                0.01, i - 0.32, f"{where}{r['challenger']} vs {r['baseline']}" + (f": {note}" if note else ""),
                transform=ax.get_yaxis_transform(), fontsize=6.5, va="bottom",
            )  # fmt: skip
        ax.axvline(0, color="grey", lw=0.8)
        reach = reach * 1.08 or 1.0
        ax.set_xlim(-reach, reach)
        ax.xaxis.set_major_locator(plt.MaxNLocator(5, symmetric=True))
        ax.tick_params(axis="x", labelsize=7)
        ax.set_yticks([])
        ax.set_ylim(len(part) - 0.5, -0.75)
        ax.set_title(name, fontsize=8)
    metrics = ", ".join(f"{METRIC_WORDS.get(m, m)}" for m in dict.fromkeys(rows["metric"]))
    axes[-1, 0].set_xlabel(f"challenger - baseline, {metrics}\n(MAE negated): right is better", fontsize=7)
    handles = [
        plt.Line2D([], [], color="black", lw=width, marker="o", ms=2 + width, label=label)
        for label, width, _ in METHOD_STYLE.values()
    ]
    handles += [
        plt.Line2D([], [], color="grey", lw=0, marker="o", label="filled: p < 0.05; hollow: not"),
        plt.Line2D([], [], color="tab:blue", lw=2, label="blue: challenger better; red: worse"),
    ]
    fig.legend(handles=handles, loc="upper left", ncol=1, fontsize=6, frameon=False, bbox_to_anchor=(0.0, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 1 - 1.1 / fig.get_figheight()))
    return fig


def _row_note(row: dict) -> str:
    """The verdict beside a forest-plot row (the search test's where there is one, else the seeds'): with its
    p, the margin it settled within, or what it could have detected."""
    effect, p, verdict = row.get("detectable_effect"), row.get("p_value"), row.get("verdict")
    if effect is None or pd.isna(effect) or not isinstance(verdict, str):
        return ""
    if verdict in ("better", "worse"):
        return f"{verdict}, p = {p:.3f}"
    if verdict == "equivalent":
        return f"equivalent (within ±{row.get('margin', float('nan')):.3f})"
    return f"undecided (could detect ≥ {effect:.3f})"


def mi_ranking(mi: pd.DataFrame, title: str):
    """Mutual information of each auxiliary target with the primary target, highest first."""
    ordered = mi.sort_values("mi")
    fig, ax = plt.subplots(figsize=(4.5, 0.22 * len(ordered) + 1.0))
    ax.barh(ordered["task"], ordered["mi"], color="tab:green")
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("mutual information (train)")
    ax.set_title(title, fontsize=9)
    return fig


__all__ = ["forest_plot", "gains", "learning_curves", "mi_ranking", "png_markdown", "save_png"]
