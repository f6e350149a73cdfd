"""The study storage on a database server retries through a restart, and only through one.

The real restart (PostgreSQL stopped for 3 s while trials train) is tests/test_several_hosts.py's;
these check which failures are retried and that the retrying is bounded.
"""

from __future__ import annotations

import optuna
import pytest
import sqlalchemy.exc

from hanrock_core.study import retrying_storage
from hanrock_core.study.retrying_storage import RetryingRDBStorage, connection_lost


def _refused() -> sqlalchemy.exc.OperationalError:
    return sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_connection_failures_are_told_apart_from_other_errors():
    assert connection_lost(_refused())
    try:
        try:
            raise _refused()
        except sqlalchemy.exc.OperationalError as exc:
            raise optuna.exceptions.StorageInternalError("commit failed") from exc
    except optuna.exceptions.StorageInternalError as wrapped:
        assert connection_lost(wrapped)  # Optuna's wrapper around the refused connection
    assert not connection_lost(sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not connection_lost(ValueError("a bug"))


def test_a_call_is_retried_until_the_server_answers(tmp_path, monkeypatch):
    monkeypatch.setattr(retrying_storage, "RETRY_EVERY_S", 0.0)
    storage = RetryingRDBStorage(f"sqlite:///{tmp_path / 'studies.db'}")
    study_id = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "s")
    failures = iter([_refused(), _refused()])
    real = optuna.storages.RDBStorage.get_study_name_from_id

    def flaky(self, study_id):
        error = next(failures, None)
        if error is not None:
            raise error
        return real(self, study_id)

    monkeypatch.setattr(optuna.storages.RDBStorage, "get_study_name_from_id", flaky)
    monkeypatch.setattr(RetryingRDBStorage, "get_study_name_from_id", retrying_storage._retried(flaky))
    assert storage.get_study_name_from_id(study_id) == "s"  # two refusals, then the answer


def test_retrying_stops_at_the_bound_and_never_retries_other_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(retrying_storage, "RETRY_EVERY_S", 0.0)
    monkeypatch.setattr(retrying_storage, "SERVER_OUTAGE_S", 0.05)
    calls = []

    def down(self):
        calls.append(1)
        raise _refused()

    with pytest.raises(sqlalchemy.exc.OperationalError):
        retrying_storage._retried(down)(None)
    assert len(calls) > 1  # retried, then gave up at the bound

    calls.clear()

    def broken(self):
        calls.append(1)
        raise sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key"))

    with pytest.raises(sqlalchemy.exc.IntegrityError):
        retrying_storage._retried(broken)(None)
    assert len(calls) == 1


def test_every_call_the_study_cache_makes_is_retried():
    """A study on an RDBStorage goes through Optuna's cache, which calls some of RDBStorage's private
    methods directly (a trial's creation, its parameters, the trial list): a restart met there must be
    retried too, not stop the search (the CI failure of 2026-12-07: "server closed the connection
    unexpectedly" in the cache's `_get_trials`)."""
    import inspect
    import re

    from optuna.storages import _cached_storage

    called = set(re.findall(r"self\._backend\.(\w+)\(", inspect.getsource(_cached_storage)))
    assert called, "Optuna's study cache no longer calls its backend as self._backend.NAME(...)"
    retried = set(retrying_storage.retried_names())
    assert called <= retried, f"not retried: {sorted(called - retried)}"
    for name in retried:
        assert getattr(RetryingRDBStorage, name) is not getattr(optuna.storages.RDBStorage, name), name
