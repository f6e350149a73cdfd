"""A hypothesis's outcome in plain words: what was compared, what is significant, where the floor wins,
and which models the study-health check flags (the study job's last log lines and the UI's summary)."""

from __future__ import annotations

import pandas as pd

from hanrock_core.reports.plots import gains
from hanrock_core.study.study_health import describe

METHOD_NAMES = {"paired": "paired test", "paper": "paper's A.4"}


def _comparison(row) -> str:
    where = row.task if getattr(row, "one_dataset", False) else f"{row.dataset}.{row.task}"
    return f"{where} {row.challenger} vs {row.baseline} {row.gain:+.3f}"


def _detail(row) -> str:
    """The paired test's p, or for a difference it did not confirm, what it could have detected: `(n.s.;
    ≥0.029)` (short: the UI shows these lines without wrapping)."""
    if pd.isna(getattr(row, "detectable_effect", None)):
        return _comparison(row)
    if row.significant:
        return f"{_comparison(row)} (p {row.p_value:.3f})"
    return f"{_comparison(row)} (n.s.; ≥{row.detectable_effect:.3f})"


def _method_lines(method: str, own: pd.DataFrame, detail: bool) -> list[str]:
    better = own[own["significant"] & (own["gain"] > 0)]
    worse = own[own["significant"] & (own["gain"] < 0)]
    quiet = own[~own["significant"]]
    lines = [f"{METHOD_NAMES.get(method, method)}: better {len(better)}, worse {len(worse)}, n.s. {len(quiet)}"]
    if detail:
        lines += [f"  better: {_detail(r)}" for r in better.itertuples()]
        lines += [f"  worse: {_detail(r)}" for r in worse.itertuples()]
        lines += [f"  n.s.: {_detail(r)}" for r in quiet.itertuples()]
    return lines


def summary_lines(hypothesis: str, significance: pd.DataFrame, health_rows: pd.DataFrame) -> list[str]:
    """Short sentences, most important first (indented ones detail the line above them); `significance`
    is the hypothesis's table under both methods (the paired test's verdicts detailed, the paper's counted)."""
    if significance.empty:
        return [f"{hypothesis.upper()}: no comparisons (no partition trained)"]
    rows = gains(significance if "method" in significance else significance.assign(method="paper"))
    rows = rows.assign(one_dataset=rows["dataset"].nunique() == 1)  # then a task names its comparison
    methods = [m for m in ("paired", "paper") if m in set(rows["method"])]
    first = rows[rows["method"] == methods[0]]
    own = first[~first["against_floor"]]
    tasks = own[["dataset", "task"]].drop_duplicates().shape[0]
    lines = [f"{hypothesis.upper()}: {len(own)} comparisons over {tasks} dataset.tasks"]
    for k, method in enumerate(methods):
        part = rows[(rows["method"] == method) & ~rows["against_floor"]]
        lines += _method_lines(method, part, detail=k == 0)
    floor = first[first["against_floor"]]
    if len(floor):
        beaten = floor[floor["significant"] & (floor["gain"] < 0)]
        keys = sorted(set(beaten["dataset"] + "." + beaten["task"]))
        lines.append(
            f"the floor is better in {len(beaten)} of {len(floor)} ({METHOD_NAMES.get(methods[0], methods[0])}"
            + (f"; {', '.join(keys)})" if keys else ")")
        )
    flagged = [line.split(" ", 1)[1] for line in describe(health_rows)] if len(health_rows) else []
    lines.append(f"study health: {len(flagged)} condition(s) flagged" + (":" if flagged else ""))
    lines += [f"  {line}" for line in flagged]
    return lines


__all__ = ["summary_lines"]
