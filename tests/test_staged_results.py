"""Staged result rows: whole files per partition, gathered into DuckDB any number of times without duplicates."""

import pandas as pd
import pytest

from hanrock_core.base.errors import InputError
from hanrock_core.base.home import Home
from hanrock_core.base.results import query
from hanrock_core.base.staged_results import gather, read_staged, write_rows

KEY = {"hypothesis": "h1", "dataset": "iemocap", "task": "emotion", "identity": "0123456789ab"}


def _trials(n: int) -> pd.DataFrame:
    return pd.DataFrame({**KEY, "condition": "none", "trial": range(n), "state": "complete", "dev_value": 0.5})


def test_staged_only_rows_reach_duckdb_when_gathered_and_never_twice(tmp_path):
    home = Home(tmp_path)
    db = home.results_db
    env = {"HANROCK_STAGED_RESULTS": "1"}
    write_rows(home, "all_trials", KEY, _trials(3), log=lambda m: None, env=env)
    assert not db.exists()  # a worker in a distributed run never opens the DuckDB file
    assert gather(home, {"hypothesis": "h1"}, log=lambda m: None) == 1
    assert gather(home, {"hypothesis": "h1"}, log=lambda m: None) == 1
    assert len(query(db, "SELECT * FROM all_trials")) == 3
    write_rows(
        home, "all_trials", KEY, _trials(2), log=lambda m: None, env=env
    )  # a re-run replaces the partition's rows
    gather(home, log=lambda m: None)
    assert sorted(query(db, "SELECT trial FROM all_trials")["trial"]) == [0, 1]
    assert gather(home, {"hypothesis": "h2"}, log=lambda m: None) == 0


def test_by_default_rows_are_staged_and_written_at_once(tmp_path):
    home = Home(tmp_path)
    db = home.results_db
    write_rows(home, "all_trials", KEY, _trials(2), log=lambda m: None, env={})
    assert len(query(db, "SELECT * FROM all_trials")) == 2
    key, rows = read_staged(home.staged_file("all_trials", KEY))
    assert key == KEY and len(rows) == 2


def test_a_foreign_file_among_the_staged_ones_is_named(tmp_path):
    home = Home(tmp_path)
    foreign = home.staged_file("all_trials", KEY)
    foreign.parent.mkdir(parents=True)
    _trials(1).to_parquet(foreign)
    with pytest.raises(InputError, match="not a staged result file") as err:
        gather(home, log=lambda m: None)
    assert str(foreign) in str(err.value)
