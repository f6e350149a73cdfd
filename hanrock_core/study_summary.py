"""A hypothesis's outcome in plain words: what was compared, what is significant, where the floor wins,
and which models the study-health check flags (the study job's last log lines and the UI's summary)."""

from __future__ import annotations

import pandas as pd

from .plots import gains
from .study_health import describe


def _comparison(row) -> str:
    return f"{row.dataset}.{row.task} {row.challenger} vs {row.baseline} ({row.gain:+.3f})"


def summary_lines(hypothesis: str, significance: pd.DataFrame, health_rows: pd.DataFrame) -> list[str]:
    """Short sentences, most important first (indented ones detail the line above them); `significance`
    is the hypothesis's bootstrap table."""
    if significance.empty:
        return [f"{hypothesis.upper()}: no comparisons (no partition trained)"]
    rows = gains(significance)
    own, floor = rows[~rows["against_floor"]], rows[rows["against_floor"]]
    better = own[own["significant"] & (own["gain"] > 0)]
    worse = own[own["significant"] & (own["gain"] < 0)]
    tasks = own[["dataset", "task"]].drop_duplicates().shape[0]
    lines = [
        f"{hypothesis.upper()}: {len(own)} comparisons over {tasks} dataset.tasks",
        f"significantly better: {len(better)}, worse: {len(worse)} (95% bootstrap)",
    ]
    lines += [f"  better: {_comparison(r)}" for r in better.itertuples()]
    lines += [f"  worse: {_comparison(r)}" for r in worse.itertuples()]
    if len(floor):
        beaten = floor[floor["significant"] & (floor["gain"] < 0)]
        keys = sorted(set(beaten["dataset"] + "." + beaten["task"]))
        lines.append(
            f"the floor beats a searched model significantly in {len(beaten)} of {len(floor)} comparisons"
            + (f" ({', '.join(keys)})" if keys else "")
        )
    flagged = [line.split(" ", 1)[1] for line in describe(health_rows)] if len(health_rows) else []
    lines.append(f"study health: {len(flagged)} condition(s) flagged" + (":" if flagged else ""))
    lines += [f"  {line}" for line in flagged]
    return lines


__all__ = ["summary_lines"]
