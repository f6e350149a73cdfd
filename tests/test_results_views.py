"""The DuckDB schema and the views that print the paper's tables."""

from __future__ import annotations

import pandas as pd
import pytest

from hanrock_core.base.results import ensure_schema, query, replace_rows

from .helpers import write_trials

TASKS = [
    ("iemocap", "emotion", "balanced_accuracy"),
    ("iemocap", "valence", "mae"),
    ("iemocap", "activation", "mae"),
    ("iemocap", "dominance", "mae"),
    ("semaine", "activation", "mae"),
    ("semaine", "intensity", "mae"),
    ("semaine", "power", "mae"),
    ("semaine", "valence", "mae"),
]


def test_table1_layout_and_markers(tmp_path, capsys):
    db = tmp_path / "r.duckdb"
    ensure_schema(db)
    ensure_schema(db)  # idempotent
    trials, sig = [], []
    for dataset, task, metric in TASKS:
        for i, condition in enumerate(["none", "ap", "aphf"]):
            for trial in range(2):
                trials.append(
                    {
                        "hypothesis": "h1",
                        "dataset": dataset,
                        "task": task,
                        "condition": condition,
                        "trial": trial,
                        "state": "complete",
                        "metric": metric,
                        "dev_value": 0.5 + trial / 10 + i / 100,
                        "test_value": 0.6 + trial / 10 + i / 100,
                    }
                )
            if condition != "none":
                sig.append(
                    {
                        "hypothesis": "h1",
                        "dataset": dataset,
                        "task": task,
                        "baseline": "none",
                        "challenger": condition,
                        "method": "paper",
                        "significant": condition == "ap" and task == "emotion",
                    }
                )
                if task == "emotion":  # the search test beside it: ap better, aphf undecided (it could detect 0.041)
                    sig.append(
                        {
                            **sig[-1],
                            "method": "search",
                            "detectable_effect": 0.041,
                            "p_value": 0.5,
                            "difference": 0.01,
                            "margin": 0.03,
                            "verdict": "better" if condition == "ap" else "undecided",
                            "estimand": "the mean difference the challenger condition makes over ...",
                        }
                    )
                    sig[-1]["significant"] = condition == "ap"
    for dataset, task, _ in TASKS:
        key = {"hypothesis": "h1", "dataset": dataset, "task": task}
        part = pd.DataFrame([t for t in trials if t["dataset"] == dataset and t["task"] == task])
        write_trials(db, key, part)
        write_trials(db, key, part)  # re-materialising replaces, never duplicates
    replace_rows(db, "significance", {"hypothesis": "h1"}, pd.DataFrame(sig))
    assert query(db, "SELECT count(*) AS n FROM trials")["n"].item() == len(trials)
    table = query(db, "SELECT * FROM table1_h1")
    assert list(table["Aux. Target"]) == ["None (Baseline)", "ap", "aphf"]
    assert table.shape == (3, 9)
    # best dev for balanced accuracy is trial 1 (higher); for MAE trial 0 (lower)
    # each number labelled: the search's mean over its slots (what the verdict compares), the selected trial
    assert table.loc[1, "IEMOCAP Classif. MA(4)"] == "search 0.660 · sel. 0.710 · better*"
    assert table.loc[2, "IEMOCAP Classif. MA(4)"] == "search 0.670 · sel. 0.720 · undecided"
    # the verdicts: aphf's test could only have found 0.041, above the 0.03 worth finding: undecided, weak test
    verdicts = query(db, "SELECT comparison, verdict, health, test, estimand FROM verdicts").set_index("comparison")
    assert (
        verdicts.loc["aphf vs none", "health"] == "weak test" and verdicts.loc["aphf vs none", "verdict"] == "undecided"
    )
    assert verdicts.loc["ap vs none", "verdict"] == "better" and set(verdicts["test"]) == {"search"}
    assert verdicts["estimand"].str.startswith("the mean difference").all()
    # `hanrock results verdicts --dataset` filters by the dataset part of `dataset.task` (issue 41, case 12)
    from .helpers import run_cli

    code, printed, err = run_cli(capsys, "results", "verdicts", "--dataset", "iemocap", "--db", db)
    assert code == 0, err
    assert "iemocap.emotion" in printed and "semaine" not in printed
    # SQL without quoting: numeric, snake_case verdicts; every view says what it holds (issue 43)
    numeric = query(db, "SELECT comparison, verdict, difference, ci_low, per_condition FROM comparison_verdicts")
    assert numeric["difference"].dtype == float and set(numeric["verdict"]) == {"better", "undecided"}
    code, printed, _ = run_cli(capsys, "results", "views", "--db", db)
    assert code == 0 and "comparison_verdicts" in printed and "replicate 0 is the selected trial" in printed
    code, _, err = run_cli(capsys, "results", "table1_h1", "--dataset", "iemocap", "--db", db)
    assert code == 2 and "table1_h1 has no dataset column (its columns: Aux. Target" in err
    assert table.loc[0, "SEMAINE Val. MAE"] == "search 0.650 · sel. 0.600"


LOCK_HOLDER = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1], read_only=True)
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
conn.close()
"""


def test_a_reader_holding_the_file_makes_writers_wait_not_fail(tmp_path):
    import subprocess
    import sys
    import time

    db = tmp_path / "r.duckdb"
    ensure_schema(db)
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(db), "3"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    messages = []
    started = time.perf_counter()
    row = pd.DataFrame([{"dataset": "d", "task": "t", "aux_task": "a", "mi": 0.5}])
    replace_rows(db, "mutual_information", {"dataset": "d", "task": "t"}, row, log=messages.append)
    holder.wait()
    assert time.perf_counter() - started > 1.0 and any("locked by another process" in m for m in messages)
    assert query(db, "SELECT count(*) AS n FROM mutual_information")["n"].item() == 1


def _damage(db, offset: int = 12288, span: int = 64) -> None:
    """Flip bytes inside a storage block (DuckDB keeps a checksum per block)."""
    data = bytearray(db.read_bytes())
    for i in range(offset, min(offset + span, len(data))):
        data[i] ^= 0xFF
    db.write_bytes(bytes(data))


def test_a_damaged_results_file_is_reported_then_rebuilt_from_the_studies(tiny_iemocap, tmp_path, capsys):
    """Fault (c): a damaged results.duckdb is named with what to do; re-running rewrites every row, no training."""
    import pytest

    from hanrock_core.base.errors import InputError
    from hanrock_core.base.home import Home
    from hanrock_core.study.profiles import load_profile
    from hanrock_core.study.search import run_hypothesis

    from .helpers import run_cli
    from .test_search import _partition, tiny_profile

    part, profile = _partition(tiny_iemocap), load_profile(tiny_profile(tmp_path))
    db = tmp_path / "results.duckdb"
    first = run_hypothesis(part, profile, "h1", Home(tmp_path), log=lambda m: None)
    expected = query(db, "SELECT condition, trial, test_value FROM trials ORDER BY ALL")
    _damage(db)
    with pytest.raises(InputError, match=r"results\.duckdb: the results database is damaged .*\(mv .*results\.duckdb"):
        replace_rows(db, "all_trials", {"hypothesis": "h1"}, first)
    code, _, err = run_cli(capsys, "results", "table1_h1", "--db", db)
    assert code == 2 and "damaged" in err and str(db) in err
    db.rename(db.with_suffix(".duckdb.damaged"))  # what the message says to do
    messages: list[str] = []
    run_hypothesis(part, profile, "h1", Home(tmp_path), log=messages.append)
    assert sum("already finished" in m for m in messages) == 3  # nothing retrained
    pd.testing.assert_frame_equal(query(db, "SELECT condition, trial, test_value FROM trials ORDER BY ALL"), expected)


def test_own_datasets_and_the_floor_appear_in_the_paper_views(tmp_path):
    """A bring-your-own task is a further column named with its metric; the floor is a last, marked row."""
    db = tmp_path / "r.duckdb"
    rows = []
    for condition, trials in (("none", 2), ("aphf", 2), ("floor", 1)):
        for trial in range(trials):
            rows.append(
                {
                    "hypothesis": "h1",
                    "dataset": "emorynlp",
                    "task": "emotion",
                    "condition": condition,
                    "trial": trial,
                    "state": "complete",
                    "metric": "weighted_f1",
                    "dev_value": 0.30 + trial / 100 + (condition == "aphf") / 10,
                    "test_value": 0.31 + trial / 100,
                }
            )
    write_trials(db, {"hypothesis": "h1", "dataset": "emorynlp", "task": "emotion"}, pd.DataFrame(rows))
    replace_rows(
        db,
        "significance",
        {"hypothesis": "h1"},
        pd.DataFrame(
            [
                {
                    "hypothesis": "h1",
                    "dataset": "emorynlp",
                    "task": "emotion",
                    "baseline": "floor",
                    "challenger": "aphf",
                    "method": "paper",
                    "significant": True,
                    "better": True,
                },
                {
                    "hypothesis": "h1",
                    "dataset": "emorynlp",
                    "task": "emotion",
                    "baseline": "none",
                    "challenger": "aphf",
                    "method": "paper",
                    "significant": False,
                    "better": True,
                },
            ]
        ),
    )
    table = query(db, "SELECT * FROM table1_h1")
    assert list(table["Aux. Target"]) == ["None (Baseline)", "aphf", "Floor: TF-IDF (not in paper)"]
    assert list(table.columns)[-1] == "emorynlp emotion weighted F1" and table.shape[1] == 1 + 8 + 1
    assert list(table["emorynlp emotion weighted F1"]) == [  # no '*' from the floor
        "search 0.315 · sel. 0.320",
        "search 0.315 · sel. 0.320",
        "0.310 (one fit)",
    ]
    long = query(db, "SELECT condition, beats_floor FROM results_long ORDER BY condition")
    assert long.set_index("condition")["beats_floor"].to_dict()["aphf"] is True


OLD_SCHEMA = """
CREATE TABLE trials (hypothesis VARCHAR, dataset VARCHAR, task VARCHAR, condition VARCHAR, trial INTEGER,
                     state VARCHAR, metric VARCHAR, dev_value DOUBLE, test_value DOUBLE);
INSERT INTO trials VALUES ('h1', 'iemocap', 'emotion', 'none', 0, 'complete', 'balanced_accuracy', 0.5, 0.5);
CREATE TABLE epochs (hypothesis VARCHAR, epoch INTEGER);
CREATE TABLE predictions (hypothesis VARCHAR, utterance_id VARCHAR);
CREATE TABLE significance (hypothesis VARCHAR, dataset VARCHAR, task VARCHAR, baseline VARCHAR, challenger VARCHAR,
    metric VARCHAR, higher_better BOOLEAN, baseline_value DOUBLE, challenger_value DOUBLE,
    ci_low DOUBLE, ci_high DOUBLE,
    significant BOOLEAN, better BOOLEAN, resamples INTEGER, baseline_trials INTEGER, challenger_trials INTEGER);
"""


def test_a_database_from_before_study_identities_keeps_its_rows_apart(tmp_path):
    """Rows written before identities cannot say what they were trained on: kept, queryable, never current."""
    import duckdb

    db = tmp_path / "r.duckdb"
    with duckdb.connect(str(db)) as conn:
        conn.execute(OLD_SCHEMA)
    ensure_schema(db)
    ensure_schema(db)
    assert query(db, "SELECT count(*) AS n FROM trials_before_identities")["n"].item() == 1
    assert query(db, "SELECT count(*) AS n FROM trials")["n"].item() == 0
    assert "identity" in query(db, "SELECT * FROM significance").columns


@pytest.mark.parametrize(
    "view",
    [
        "health",
        "superseded",
        "table1_h1",
        "significance",
        "identities",
        "affinity",
        "affinity_family",
        "table_h4_weighting",
    ],
)
def test_every_results_command_reads_a_file_from_before_identities(tmp_path, capsys, view):
    """An old results file: the command updates it (rows kept, a line says so) and answers, never a traceback."""
    import duckdb

    from .helpers import run_cli

    db = tmp_path / "r.duckdb"
    with duckdb.connect(str(db)) as conn:
        conn.execute(OLD_SCHEMA)
    code, out, err = run_cli(capsys, "results", view, "--db", db)
    assert code == 0, err
    assert "Traceback" not in err and "updating" in err
    code, out, err = run_cli(capsys, "results", view, "--db", db)  # updated once: the second read says nothing
    assert code == 0 and "updating" not in err
    assert query(db, "SELECT count(*) AS n FROM trials_before_identities")["n"].item() == 1


def test_results_for_a_dataset_without_rows_say_which_have_rows(tmp_path, capsys):
    from .helpers import run_cli, write_trials

    db = tmp_path / "r.duckdb"
    key = {"hypothesis": "h1", "dataset": "iemocap", "task": "emotion"}
    write_trials(db, key, pd.DataFrame([{**key, "condition": "none", "trial": 0, "state": "complete"}]))
    code, _, err = run_cli(capsys, "results", "results_long", "--dataset", "nosuch", "--db", db)
    assert code == 2 and "no results for dataset 'nosuch'" in err and "datasets with results: iemocap" in err


def test_the_selected_trials_view_applies_the_selection_rule(tmp_path):
    """The `selected_trials` view and `selection.selected_trials` pick the same trial: best dev among complete and
    pruned trials with a dev value, the lower trial on a tie, lower-is-better for MAE; failed ones never."""
    from hanrock_core.study.selection import selected_trials

    db = tmp_path / "r.duckdb"
    ensure_schema(db)
    cases = {  # (dataset, task, metric): (state, dev) per trial
        ("iemocap", "emotion", "balanced_accuracy"): [
            ("complete", 0.70),
            ("pruned", 0.75),
            ("complete", 0.75),  # a tie: the lower trial (1) wins
            ("failed", 0.99),
            ("complete", None),
        ],
        ("iemocap", "valence", "mae"): [("complete", 0.40), ("complete", 0.30), ("pruned", 0.35), ("failed", 0.1)],
    }
    for (dataset, task, metric), trials in cases.items():
        key = {"hypothesis": "h1", "dataset": dataset, "task": task}
        rows = pd.DataFrame(
            [
                {**key, "condition": c, "trial": i, "state": s, "metric": metric, "dev_value": d, "test_value": 0.5}
                for c in ("none", "aphf")
                for i, (s, d) in enumerate(trials)
            ]
        )
        write_trials(db, key, rows)
        in_python = selected_trials(rows)
        in_sql = query(db, f"SELECT condition, trial FROM selected_trials WHERE task = '{task}'")
        assert dict(zip(in_sql["condition"], in_sql["trial"].astype(int))) == in_python
        assert set(in_python.values()) == {1}  # the tie (accuracy) and the lowest MAE: trial 1 both times
