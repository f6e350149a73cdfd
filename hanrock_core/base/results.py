"""The results database: one DuckDB file, short transactions, the schema and views of sql/.

Every write opens a connection, replaces a partition's rows in one transaction and closes it,
so no connection is held while a model trains.  A file locked by another process (a user's SQL
session) is retried with a log line until `LOCK_WAIT_S`, then reported.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from hanrock_core.base.errors import InputError
from hanrock_core.base.metrics import METRIC_LABELS, default_metric

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
LOCK_WAIT_S = 120.0
DAMAGE_SIGNS = ("corrupt", "could not read enough bytes", "not a valid duckdb", "checksum", "invalid database")


def _damaged(path: Path, exc: Exception) -> InputError:
    """The error a user sees for a results file that DuckDB cannot read back."""
    return InputError(
        f"the results database is damaged ({exc})",
        path,
        hint=f"move it aside (mv {path} {path}.damaged) and re-run the studies: finished trials are kept "
        "in the Optuna studies under $HANROCK_HOME/studies, so every row is rewritten without training",
    )


def _is_damage(exc: Exception) -> bool:
    return any(sign in str(exc).lower() for sign in DAMAGE_SIGNS)


def sql_files() -> list[Path]:
    files = [SQL_DIR / "schema.sql", SQL_DIR / "views.sql"]
    missing = [f for f in files if not f.exists()]
    if missing:
        raise InputError(
            f"the platform's SQL files are missing: {missing}", hint="install the project from its checkout"
        )
    return files


@contextmanager
def connect(
    path: str | Path, log: Callable[[str], None] = print, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection; waits (with a log line) while another process holds the file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    waited, delay = 0.0, 0.5
    while True:
        try:
            conn = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.Error as exc:
            if _is_damage(exc):
                raise _damaged(path, exc) from exc
            if "lock" not in str(exc).lower() or waited >= LOCK_WAIT_S:
                raise InputError(
                    f"cannot open the results database: {exc}",
                    path,
                    hint="close other sessions on this file (read-only SQL sessions hold a lock)",
                ) from exc
            log(f"{path} is locked by another process; retrying in {delay:.1f} s (waited {waited:.0f} s)")
            time.sleep(delay)
            waited += delay
            delay = min(delay * 2, 10.0)
    try:
        yield conn
    except duckdb.Error as exc:  # a damaged block shows when it is read, not when the file opens
        if _is_damage(exc):
            raise _damaged(path, exc) from exc
        raise
    finally:
        conn.close()


# the paper's 8 columns of Tables 1-3: (dataset, task) -> header, for the paper's metric
PAPER_COLUMNS = {
    ("iemocap", "emotion"): "IEMOCAP Classif. MA(4)",
    ("iemocap", "valence"): "IEMOCAP Val. MAE",
    ("iemocap", "activation"): "IEMOCAP Act. MAE",
    ("iemocap", "dominance"): "IEMOCAP Dom. MAE",
    ("semaine", "activation"): "SEMAINE Act. MAE",
    ("semaine", "intensity"): "SEMAINE Int. MAE",
    ("semaine", "power"): "SEMAINE Pow. MAE",
    ("semaine", "valence"): "SEMAINE Val. MAE",
}


def _header(dataset: str, task: str, metric: str | None) -> str:
    """A column's name: the paper's for its 8 columns on the paper's metric, else `dataset task METRIC`."""
    paper = PAPER_COLUMNS.get((dataset, task))
    if paper and metric in (None, default_metric(task == "emotion")):
        return paper
    label = METRIC_LABELS.get(metric or "", metric or "")
    if paper:
        return paper.rsplit(" ", 1)[0] + f" {label}"
    return f"{dataset} {task} {label}"


def paper_row_macro(conn) -> str:
    """`paper_row(h)` with the paper's 8 columns, then every other dataset/task the trials hold."""
    present = conn.execute(
        "SELECT DISTINCT dataset, task, any_value(metric) OVER (PARTITION BY dataset, task) "
        "FROM trials ORDER BY dataset, task"
    ).fetchall()
    metrics = {(d, t): m for d, t, m in present}
    columns = list(PAPER_COLUMNS) + [key for key in metrics if key not in PAPER_COLUMNS]
    cells = ",\n    ".join(
        f"max(cell) FILTER (WHERE dataset = '{d}' AND task = '{t}') AS \"{_header(d, t, metrics.get((d, t)))}\""
        for d, t in columns
    )
    return (
        f"CREATE OR REPLACE MACRO paper_row(h) AS TABLE\nSELECT condition,\n    {cells}\n"
        "FROM results_long WHERE hypothesis = h GROUP BY condition"
    )


def _keep_rows_before_identities(conn) -> None:
    """A database written before study identities: its trials, epochs and predictions tables become
    `<table>_before_identities` (superseded rows, still queryable); the tables of this version replace them."""
    kinds = dict(
        conn.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    )
    for name in ("trials", "epochs", "predictions"):
        if kinds.get(name) == "BASE TABLE":
            conn.execute(f"ALTER TABLE {name} RENAME TO {name}_before_identities")
    for name in ("significance", "class_f1"):
        if kinds.get(name) == "BASE TABLE":
            conn.execute(f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS identity VARCHAR")


# tables whose primary key grew a column after they shipped: (the new column, its value for old rows)
WIDER_KEYS = {"all_predictions": ("replicate", "0"), "significance": ("method", "'paper'")}


def _widen_keys(conn) -> list[str]:
    """A file whose tables lack a key column of this version: each such table is renamed aside and its rows
    come back under the new key once the schema is applied (`_restore_widened`)."""
    moved = []
    for table, (column, _) in WIDER_KEYS.items():
        columns = [
            r[0]
            for r in conn.execute(
                f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}'"
            ).fetchall()
        ]
        if columns and column not in columns:
            conn.execute(f"ALTER TABLE {table} RENAME TO {table}_old_key")
            moved.append(table)
    return moved


def _restore_widened(conn, moved: list[str]) -> None:
    for table in moved:
        column, value = WIDER_KEYS[table]
        old = [
            r[0]
            for r in conn.execute(
                f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}_old_key'"
            ).fetchall()
        ]
        names = ", ".join(old)
        conn.execute(f"INSERT INTO {table} ({names}, {column}) SELECT {names}, {value} FROM {table}_old_key")
        conn.execute(f"DROP TABLE {table}_old_key")


# columns added to a table after it first shipped: a file written by an older version gains them
ADDED_COLUMNS = {
    "all_trials": {"stopped": "VARCHAR"},
    "all_chance_levels": {"unseen_classes": "VARCHAR"},
    "all_predictions": {"dialogue": "VARCHAR"},
    "significance": {
        "difference": "DOUBLE",
        "p_value": "DOUBLE",
        "detectable_effect": "DOUBLE",
        "seeds": "INTEGER",
        "test_dialogues": "INTEGER",
        "test_talkturns": "INTEGER",
        "verdict": "VARCHAR",
        "margin": "DOUBLE",
        "p_equivalence": "DOUBLE",
        "p_seed_permutation": "DOUBLE",
        "estimand": "VARCHAR",
    },
}


def schema_fingerprint() -> str:
    """What this version's tables and views are: a file stamped with another fingerprint needs migrating."""
    digest = hashlib.sha256(repr((sorted(ADDED_COLUMNS.items()), sorted(WIDER_KEYS.items()))).encode())
    for path in sql_files():
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def apply_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """The tables (an older file's kept apart or completed) and the views, on an open connection."""
    _keep_rows_before_identities(conn)
    moved = _widen_keys(conn)
    schema, views = sql_files()
    conn.execute(schema.read_text())
    _restore_widened(conn, moved)
    for table, columns in ADDED_COLUMNS.items():
        for column, kind in columns.items():
            conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")
    conn.execute(views.read_text())
    conn.execute(paper_row_macro(conn))
    conn.execute("CREATE OR REPLACE TABLE schema_version AS SELECT ? AS fingerprint", [schema_fingerprint()])


def _stamp(path: Path, log: Callable[[str], None]) -> str | None:
    """The schema fingerprint a results file carries (None: written by a version without one)."""
    with connect(path, log, read_only=True) as conn:
        try:
            return conn.execute("SELECT any_value(fingerprint) FROM schema_version").fetchone()[0]
        except duckdb.CatalogException:
            return None


def ensure_current(path: str | Path, log: Callable[[str], None] = print) -> None:
    """Before reading a results file: one an older version wrote gets this version's tables and views (its
    rows kept), with a log line; a file that cannot be updated is explained, never read with missing views."""
    path = Path(path)
    if _stamp(path, log) == schema_fingerprint():
        return
    log(f"updating {path} to this version's tables and views (every row is kept)")
    try:
        ensure_schema(path, log)
    except (duckdb.Error, OSError) as exc:
        raise InputError(
            f"the results file was written by another version of the platform and cannot be updated: {exc}",
            path,
            hint="make it writable (or close the session that holds it) and run the command again, "
            "or run a study, which updates it",
        ) from exc


def ensure_schema(path: str | Path, log: Callable[[str], None] = print) -> None:
    """Create the tables and (re)create the views; safe to run any number of times."""
    with connect(path, log) as conn:
        apply_schema(conn)


def in_memory(tables: dict[str, pd.DataFrame]) -> duckdb.DuckDBPyConnection:
    """A database in memory with the schema, the views and these rows: the views of rows not yet in the file."""
    conn = duckdb.connect()
    apply_schema(conn)
    for table, rows in tables.items():
        if len(rows):
            columns = [c[0] for c in conn.execute(f"DESCRIBE {table}").fetchall()]
            conn.register("incoming", rows.reindex(columns=columns))
            conn.execute(f"INSERT INTO {table} SELECT * FROM incoming")
            conn.unregister("incoming")
    return conn


def replace_rows(
    path: str | Path, table: str, key: dict[str, str], rows: pd.DataFrame, log: Callable[[str], None] = print
) -> int:
    """Delete the rows matching `key` and insert `rows`, in one transaction (never duplicates)."""
    ensure_schema(path, log)
    where = " AND ".join(f"{k} = ?" for k in key)
    with connect(path, log) as conn:
        conn.execute("BEGIN TRANSACTION")
        try:
            conn.execute(f"DELETE FROM {table} WHERE {where}", list(key.values()))
            if len(rows):
                columns = [c[0] for c in conn.execute(f"DESCRIBE {table}").fetchall()]
                frame = rows.reindex(columns=columns)
                conn.register("incoming", frame)
                conn.execute(f"INSERT INTO {table} SELECT * FROM incoming")
                conn.unregister("incoming")
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
    return len(rows)


def query(path: str | Path, sql: str, params: list | None = None, log: Callable[[str], None] = print) -> pd.DataFrame:
    with connect(path, log) as conn:
        return conn.execute(sql, params or []).df()


def mutual_information_rows(dataset: str, task: str, mi: pd.DataFrame) -> pd.DataFrame:
    """The MI ranking of one dataset.task as rows of the `mutual_information` table."""
    return mi.rename(columns={"task": "aux_task", "n": "rows_used"}).assign(dataset=dataset, task=task)


def view_rows(path: str | Path, view: str, log: Callable[[str], None] = print) -> pd.DataFrame:
    """Every row of one of sql/views.sql's views (e.g. table1_h1)."""
    if not view.isidentifier():
        raise ValueError(f"{view!r} is not a view name")
    return query(path, f"SELECT * FROM {view}", log=log)
