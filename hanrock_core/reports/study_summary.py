"""A hypothesis's outcome in plain words: what was compared, what is significant, where the floor wins,
and which models the study-health check flags (the study job's last log lines and the UI's summary)."""

from __future__ import annotations

import pandas as pd

from hanrock_core.reports.plots import gains
from hanrock_core.study.study_health import describe

METHOD_NAMES = {
    "search": "search test (every slot of both searches: about the conditions)",
    "paired": "seeds test (the selected configurations' seeds)",
    "paper": "paper's A.4",
}
FLOOR_METHOD_NAMES = {  # the same tests against the floor: one fit, so the condition's side alone varies
    "search": "search test (every slot of the condition)",
    "paired": "seeds test (the kept model's seeds)",
}
VERDICTS = ("better", "worse", "equivalent", "undecided")


def _comparison(row) -> str:
    where = row.task if getattr(row, "one_dataset", False) else f"{row.dataset}.{row.task}"
    return f"{where} {row.challenger} vs {row.baseline} {row.gain:+.3f}"


def _detail(row) -> str:
    """A comparison with what decided it: p for better / worse, the margin for equivalent, what the test could
    have detected for undecided (short: the UI shows these lines without wrapping)."""
    if pd.isna(getattr(row, "detectable_effect", None)):
        return _comparison(row)
    if row.verdict in ("better", "worse"):
        return f"{_comparison(row)} (p {row.p_value:.3f})"
    if row.verdict == "equivalent":
        return f"{_comparison(row)} (within ±{row.margin:.3f})"
    return f"{_comparison(row)} (could detect ≥{row.detectable_effect:.3f})"


def _verdicts(rows: pd.DataFrame) -> pd.Series:
    """Each row's verdict word; the paper's A.4 has none of its own: better, worse or n.s."""
    own = rows["verdict"] if "verdict" in rows else pd.Series(None, index=rows.index, dtype=object)
    tested = rows["significant"].astype(bool)
    paper = pd.Series("n.s.", index=rows.index).where(~tested, rows["gain"].gt(0).map({True: "better", False: "worse"}))
    return own.where(own.notna() & rows["method"].ne("paper"), paper)


def _method_lines(method: str, own: pd.DataFrame, detail: bool, name: str | None = None) -> list[str]:
    """`name: better n, worse n, ...` of one test's verdicts (`name`: the test's, by default), and with `detail`
    each comparison under it."""
    words = VERDICTS if method != "paper" else ("better", "worse", "n.s.")
    counts = own["verdict"].value_counts()
    name = name or METHOD_NAMES.get(method, method)
    lines = [f"{name}: " + ", ".join(f"{w} {int(counts.get(w, 0))}" for w in words)]
    if detail:
        lines += [f"  {r.verdict}: {_detail(r)}" for w in words for r in own[own["verdict"] == w].itertuples()]
    return lines


def summary_lines(hypothesis: str, significance: pd.DataFrame, health_rows: pd.DataFrame) -> list[str]:
    """Short sentences, most important first (indented ones detail the line above them); `significance`
    is the hypothesis's table under every method: the verdicts of the test that answers each comparison
    (the search test) detailed, the others counted; then each test's verdicts against the floor."""
    if significance.empty:
        return [f"{hypothesis.upper()}: no comparisons (no partition trained)"]
    rows = gains(significance if "method" in significance else significance.assign(method="paper"))
    rows = rows.assign(one_dataset=rows["dataset"].nunique() == 1, verdict=lambda r: _verdicts(r))
    methods = [m for m in ("search", "paired", "paper") if m in set(rows["method"])]
    own = rows[~rows["against_floor"] & ~rows["challenger"].str.endswith(" ensemble")]
    first = own[own["method"] == methods[0]]
    tasks = first[["dataset", "task"]].drop_duplicates().shape[0]
    lines = [f"{hypothesis.upper()}: {len(first)} comparisons over {tasks} dataset.tasks"]
    for k, method in enumerate(methods):
        lines += _method_lines(method, own[own["method"] == method], detail=k == 0)
    floor = rows[rows["against_floor"] & ~rows["challenger"].str.endswith(" ensemble")]
    for method in methods:  # against the floor: the condition's answer (search), its kept model's (seeds), A.4
        chosen = floor[floor["method"] == method]
        if method == "paired" and "detectable_effect" in chosen:
            chosen = chosen[chosen["detectable_effect"].notna()]  # one seed answers nothing
        if len(chosen):
            name = f"against the floor, {FLOOR_METHOD_NAMES.get(method, METHOD_NAMES.get(method, method))}"
            worse = chosen[chosen["verdict"] == "worse"]
            keys = sorted(set(worse["dataset"] + "." + worse["task"]))
            line = _method_lines(method, chosen, detail=False, name=name)[0]
            lines.append(line + (f" (below the floor: {', '.join(keys)})" if keys else ""))
    flagged = [line.split(" ", 1)[1] for line in describe(health_rows)] if len(health_rows) else []
    lines.append(f"study health: {len(flagged)} condition(s) flagged" + (":" if flagged else ""))
    lines += [f"  {line}" for line in flagged]
    return lines


__all__ = ["summary_lines"]
