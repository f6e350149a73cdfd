"""Staged result rows: whole files per partition, gathered into DuckDB any number of times without duplicates."""

import pandas as pd
import pytest

from hanrock_core.errors import InputError
from hanrock_core.results import query
from hanrock_core.staged_results import gather, read_staged, staged_file, write_rows

KEY = {"hypothesis": "h1", "dataset": "iemocap", "task": "emotion", "identity": "0123456789ab"}


def _trials(n: int) -> pd.DataFrame:
    return pd.DataFrame({**KEY, "condition": "none", "trial": range(n), "state": "complete", "dev_value": 0.5})


def test_staged_only_rows_reach_duckdb_when_gathered_and_never_twice(tmp_path):
    db = tmp_path / "results.duckdb"
    env = {"HANROCK_STAGED_RESULTS": "1"}
    write_rows(db, "all_trials", KEY, _trials(3), log=lambda m: None, env=env)
    assert not db.exists()  # a worker in a distributed run never opens the DuckDB file
    assert gather(db, {"hypothesis": "h1"}, log=lambda m: None) == 1
    assert gather(db, {"hypothesis": "h1"}, log=lambda m: None) == 1
    assert len(query(db, "SELECT * FROM all_trials")) == 3
    write_rows(db, "all_trials", KEY, _trials(2), log=lambda m: None, env=env)  # a re-run replaces the partition's rows
    gather(db, log=lambda m: None)
    assert sorted(query(db, "SELECT trial FROM all_trials")["trial"]) == [0, 1]
    assert gather(db, {"hypothesis": "h2"}, log=lambda m: None) == 0


def test_by_default_rows_are_staged_and_written_at_once(tmp_path):
    db = tmp_path / "results.duckdb"
    write_rows(db, "all_trials", KEY, _trials(2), log=lambda m: None, env={})
    assert len(query(db, "SELECT * FROM all_trials")) == 2
    key, rows = read_staged(staged_file(db, "all_trials", KEY))
    assert key == KEY and len(rows) == 2


def test_a_foreign_file_among_the_staged_ones_is_named(tmp_path):
    db = tmp_path / "results.duckdb"
    foreign = staged_file(db, "all_trials", KEY)
    foreign.parent.mkdir(parents=True)
    _trials(1).to_parquet(foreign)
    with pytest.raises(InputError, match="not a staged result file") as err:
        gather(db, log=lambda m: None)
    assert str(foreign) in str(err.value)
