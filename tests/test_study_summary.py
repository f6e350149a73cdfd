"""What a researcher reads first: effects signed so that right is better, the floor apart, a plain summary."""

from __future__ import annotations

import pandas as pd

from hanrock_core.reports.plots import forest_plot, gains
from hanrock_core.reports.study_summary import summary_lines


def _table() -> pd.DataFrame:
    row = dict(hypothesis="h1", dataset="iemocap", resamples=1000, baseline_trials=3, challenger_trials=3, identity="x")
    return pd.DataFrame(
        [
            # MA (higher is better): ap better than none, significant
            dict(row, task="emotion", baseline="none", challenger="ap", metric="balanced_accuracy",
                 higher_better=True, baseline_value=0.70, challenger_value=0.73, ci_low=0.01, ci_high=0.05,
                 significant=True, better=True),
            # MAE (lower is better): aphf lower error than none, significant -> a positive gain
            dict(row, task="valence", baseline="none", challenger="aphf", metric="mae", higher_better=False,
                 baseline_value=0.50, challenger_value=0.45, ci_low=-0.08, ci_high=-0.02, significant=True,
                 better=True),
            # the floor beats none on valence (none's MAE is higher than the floor's)
            dict(row, task="valence", baseline="floor", challenger="none", metric="mae", higher_better=False,
                 baseline_value=0.40, challenger_value=0.50, ci_low=0.05, ci_high=0.15, significant=True,
                 better=False),
        ]
    )  # fmt: skip


def test_gains_point_right_when_the_challenger_is_better_whatever_the_metric():
    rows = gains(_table())
    assert rows["gain"].round(3).tolist() == [0.03, 0.05, -0.1]
    assert rows[["gain_low", "gain_high"]].round(3).values.tolist() == [[0.01, 0.05], [0.02, 0.08], [-0.15, -0.05]]
    assert rows["against_floor"].tolist() == [False, False, True]


def test_the_summary_names_what_is_significant_and_where_the_floor_wins():
    health = pd.DataFrame(
        [dict(hypothesis="h1", dataset="iemocap", task="emotion", condition="ap", flags="the selected trial was x")]
    )
    lines = summary_lines("h1", _table(), health)
    assert lines[:2] == ["H1: 2 comparisons over 2 dataset.tasks", "paper's A.4: better 2, worse 0, n.s. 0"]
    assert "valence aphf vs none +0.050" in lines[3]  # one dataset: its tasks name the comparisons
    assert lines[4] == "against the floor, paper's A.4: better 0, worse 1, n.s. 0 (below the floor: iemocap.valence)"
    assert (
        lines[5] == "study health: 1 condition(s) flagged:"
        and lines[6] == "  iemocap.emotion ap: the selected trial was x"
    )
    # with the search test beside it, its verdicts come first, each with what decided it
    search = (
        _table()
        .iloc[:2]
        .assign(
            method="search",
            p_value=[0.2, 0.01],
            detectable_effect=[0.05, 0.03],
            verdict=["undecided", "better"],
            margin=0.03,
        )
    )
    seeds = _table().assign(
        method="paired", p_value=[0.3, 0.04, 0.001], detectable_effect=[0.06, 0.03, 0.04],
        verdict=["equivalent", "better", "worse"], margin=0.03,
    )  # fmt: skip
    lines = summary_lines("h1", pd.concat([search, seeds, _table().assign(method="paper")]), health)
    assert lines[1].startswith("search test") and lines[1].endswith("better 1, worse 0, equivalent 0, undecided 1")
    assert lines[2] == "  better: valence aphf vs none +0.050 (p 0.010)"
    assert lines[3] == "  undecided: emotion ap vs none +0.030 (could detect ≥0.050)"
    assert lines[4].startswith("seeds test") and lines[4].endswith("better 1, worse 0, equivalent 1, undecided 0")
    assert lines[5] == "paper's A.4: better 2, worse 0, n.s. 0"
    assert lines[6].startswith("against the floor, seeds test") and lines[6].endswith(
        "better 0, worse 1, equivalent 0, undecided 0 (below the floor: iemocap.valence)"
    )
    assert lines[7].startswith("against the floor, paper's A.4")


def test_the_forest_plot_has_a_panel_for_the_hypothesis_and_one_for_the_floor():
    fig = forest_plot(_table(), "H1")
    assert [ax.get_title() for ax in fig.axes] == [
        "H1: the hypothesis's comparisons",
        "against the bag-of-words floor",
    ]
    assert "right is better" in fig.axes[-1].get_xlabel()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "paper's A.4: resampled trials" in legend and any(t.startswith("search test") for t in legend)
