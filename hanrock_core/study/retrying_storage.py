"""An Optuna storage on a database server that rides through the server restarting.

A trial writes to the study storage at its start, after every epoch and at its end.  While the server
(PostgreSQL) restarts, every write meets a refused or ended connection; plain `RDBStorage` raises, the
trial fails and so does its step.  `RetryingRDBStorage` retries a call whose connection could not be
made or was lost, once a second for up to SERVER_OUTAGE_S seconds, then raises what it met.  A call
whose connection failed did not commit (PostgreSQL rolls back an open transaction when the session
ends), so retrying it applies it once; a commit whose acknowledgement alone was lost is the one case
this cannot tell apart, and it needs the connection to drop within the commit itself.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time

import optuna
import sqlalchemy.exc

SERVER_OUTAGE_S = 60  # seconds a call keeps retrying a database server that does not answer
RETRY_EVERY_S = 1.0

_log = logging.getLogger("hanrock.study_storage")


def connection_error(exc: BaseException | None) -> BaseException | None:
    """The exception in `exc`'s chain (itself or one it was raised from) saying the database connection
    failed, or None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
            return exc
        if isinstance(exc, sqlalchemy.exc.InvalidatePoolError):
            return exc
        if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def connection_lost(exc: BaseException) -> bool:
    """True when `exc` (or an exception it was raised from) says the database connection failed."""
    return connection_error(exc) is not None


def _retried(method):
    """`method` retried while the database server does not answer, for up to SERVER_OUTAGE_S seconds."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        deadline = time.monotonic() + SERVER_OUTAGE_S
        told = False
        while True:
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                cause = connection_error(exc)
                if cause is None or time.monotonic() >= deadline:
                    raise
                if not told:
                    _log.warning(
                        "the study storage does not answer (%s); retrying %s for up to %d s",
                        (str(getattr(cause, "orig", None) or cause).strip().splitlines() or ["no message"])[0][:200],
                        method.__name__,
                        SERVER_OUTAGE_S,
                    )
                    told = True
                time.sleep(RETRY_EVERY_S)

    return call


# RDBStorage's private methods that Optuna's study cache (optuna.storages._CachedStorage, which every
# study on an RDBStorage goes through) calls directly: each opens and commits a session of its own, so it
# is retried like a public call.  tests/test_retrying_storage.py reads the cache's source for its calls.
CACHE_CALLS = ("_create_new_trial", "_set_trial_param", "_get_best_trial_id", "_get_trials", "_get_stale_trial_ids")


class RetryingRDBStorage(optuna.storages.RDBStorage):
    """Optuna's RDBStorage whose public calls, and the private ones its study cache makes, are retried
    through a database server restart."""


def retried_names() -> list[str]:
    """The RDBStorage methods that RetryingRDBStorage retries."""
    members = vars(optuna.storages.RDBStorage)
    public = [n for n, m in members.items() if not n.startswith("_") and inspect.isfunction(m)]
    return public + [n for n in CACHE_CALLS if n in members]


for _name in retried_names():
    setattr(RetryingRDBStorage, _name, _retried(vars(optuna.storages.RDBStorage)[_name]))
