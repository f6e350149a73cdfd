"""The Optuna studies of a partition: where they are stored, their names, and how one is opened.

One Optuna study per condition and identity (study_identity.py: a fingerprint of the profile,
narratives, targets, data and code), stored persistently, so a killed run resumes where it
stopped and never repeats a finished trial, and a run on other inputs never resumes it.  Trial k
of every condition is slot k: each missing slot is queued with its number, so an interrupted slot
is run again as itself.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import optuna
import sqlalchemy.exc

from hanrock_core.base.errors import InputError
from hanrock_core.base.home import Home
from hanrock_core.base.metrics import default_metric
from hanrock_core.study.hypotheses import Condition
from hanrock_core.study.median_stopping import search_policy, slot_of
from hanrock_core.study.partition_data import PartitionData
from hanrock_core.study.profiles import Profile
from hanrock_core.study.retrying_storage import RetryingRDBStorage
from hanrock_core.study.study_identity import StudyIdentity, base_of
from hanrock_core.study.study_identity import study_name as identified_name

Log = Callable[[str], None]


def storage_url(home: Home, hypothesis: str, key: str, url: str | None = None) -> str:
    """An RDB URL from config, else one SQLite file per hypothesis x partition."""
    if url:
        return url
    path = home.study_db(hypothesis, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def dashboard_storage(home: Home, name: str | None, url: str | None = None) -> str:
    """The Optuna storage a dashboard opens: `url` (the deployment's shared storage) as it is, else the SQLite
    file of the studies `name` (HYPOTHESIS/DATASET.TASK, e.g. h1/iemocap.emotion); without a name, the one
    such file there is.  An unknown or ambiguous name is refused with the names there are."""
    if url:
        return url
    found = {f"{p.parent.name}/{p.stem}": p for p in sorted(home.studies.glob("*/*.db"))}
    if name is None and len(found) == 1:
        name = next(iter(found))
    if name not in found:
        listed = ", ".join(found) or "none yet (run a study first)"
        raise InputError(
            "name the studies to open" if name is None else f"no studies named {name!r}",
            home.studies,
            hint=f"give one of: {listed}",
        )
    return f"sqlite:///{found[name]}"


def without_password(url: str) -> str:
    """A storage URL fit for a log line."""
    return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)


@contextmanager
def claiming_trials(url: str) -> Iterator[None]:
    """Held while a process takes a queued trial of a SQLite study.

    Optuna reads a queued trial, then marks it running; SQLite does not lock the row in between,
    so two worker processes can both take the same trial (and the second to finish is refused:
    "Cannot tell a COMPLETE trial").  One taker at a time per database file; a server database
    (PostgreSQL) locks the row itself."""
    parsed = sqlalchemy.engine.make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database:
        yield
        return
    with open(f"{parsed.database}.claim.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def open_storage(url: str, attempts: int = 5) -> optuna.storages.RDBStorage:
    """The study storage, opened once per run.

    A new database is initialised by whoever opens it first; another process opening it at the
    same moment (a second worker, a dashboard, a test polling the file) makes that
    initialisation fail ("table ... already exists", a duplicate version row), after which the
    schema is there: open again.  Any other failure is raised by the last attempt.
    """

    def make() -> optuna.storages.RDBStorage:
        if url.startswith("sqlite"):
            return optuna.storages.RDBStorage(url)
        # a server database: pooled connections are checked before use (one a server restart ended is
        # replaced) and calls are retried while the server restarts (retrying_storage.py)
        return RetryingRDBStorage(url, engine_kwargs={"pool_pre_ping": True})

    for attempt in range(1, attempts):
        try:
            return make()
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError):
            time.sleep(0.2 * attempt)
    return make()  # the last attempt raises what it meets


@contextmanager
def partition_held(home: Home, hypothesis: str, key: str, owner: str) -> Iterator[None]:
    """Hold a hypothesis x dataset.task's studies for one run; a second run at the same time is refused at
    once, naming the run that holds them (two runs would both tell Optuna the same trials' ends).  The
    lock is the operating system's, so a killed run never leaves it held."""
    path = home.study_lock(hypothesis, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the whole block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise InputError(
                f"another run is training the {hypothesis} studies of {key}: {holder}",
                path,
                hint="wait for it to finish or stop it, then run again (its finished trials are kept and not "
                "trained twice)",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{owner} (host {socket.gethostname()}, process {os.getpid()}, since {_now()})\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock


def _interrupted(trial: optuna.trial.FrozenTrial) -> bool:
    """Failed without a reason of its own: cut off by a killed run (every real failure records one)."""
    return trial.state == optuna.trial.TrialState.FAIL and "reason" not in trial.user_attrs


def _finished(trial: optuna.trial.FrozenTrial) -> bool:
    """Complete, pruned, or failed for a reason of its own."""
    return trial.state.is_finished() and not _interrupted(trial)


def _fail_interrupted(study: optuna.Study) -> None:
    """Trials left RUNNING by a killed run are marked failed (interrupted) and not counted."""
    for trial in study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)


def study_base(part: PartitionData, hypothesis: str, condition: Condition) -> str:
    """A condition's study name without its identity; trials selected on another metric chose other
    epochs, so a non-default metric gets studies of its own (the paper's metric keeps the plain name)."""
    metric, _ = part.data.selection
    suffix = "" if metric == default_metric(part.data.classification) else f"@{metric}"
    return f"{hypothesis}.{part.dataset}.{part.task}.{condition.name}{suffix}"


def study_name(part: PartitionData, hypothesis: str, condition: Condition, identity: StudyIdentity) -> str:
    """The Optuna study of a condition trained on these inputs."""
    return identified_name(study_base(part, hypothesis, condition), identity)


def condition_study(
    part: PartitionData,
    profile: Profile,
    hypothesis: str,
    condition: Condition,
    identity: StudyIdentity,
    storage: optuna.storages.RDBStorage,
    log: Log = print,
) -> optuna.Study:
    """The condition's study of these inputs, created or resumed, with the sampler and pruner that make
    trial k the same whoever runs it (hanrock_core/study/median_stopping.py)."""
    _, higher_better = part.data.selection
    sampler, pruner = search_policy(profile.seed, profile.median_pruning, log)
    return optuna.create_study(
        study_name=study_name(part, hypothesis, condition, identity),
        storage=storage,
        load_if_exists=True,
        direction="maximize" if higher_better else "minimize",
        sampler=sampler,
        pruner=pruner,
    )


def _queue_missing_slots(study: optuna.Study, storage: optuna.storages.RDBStorage, slots: int) -> tuple[int, int]:
    """Queue every slot below `slots` without a finished or queued trial, each with its own number.

    The queue runs lowest number first and the median pruner of slot k + 1 waits for slot k, so
    slots must be queued in order: when a killed run left slot k + 1 queued but slot k interrupted,
    the queued trials are withdrawn (marked failed without a reason, so never counted, and
    `withdrawn`) and every missing slot is queued again, lowest first.  Returns (queued, finished).
    """
    done = {slot_of(t) for t in study.get_trials(deepcopy=False) if _finished(t)}
    waiting = {slot_of(t): t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))}
    missing = [slot for slot in range(slots) if slot not in done and slot not in waiting]
    if missing and any(slot > missing[0] for slot in waiting):
        for trial in waiting.values():
            storage.set_trial_user_attr(trial._trial_id, "withdrawn", True)  # noqa: SLF001
            storage.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL)  # noqa: SLF001
        waiting = {}
        missing = [slot for slot in range(slots) if slot not in done]
    for slot in missing:
        study.enqueue_trial({}, user_attrs={"slot": slot})  # slot k runs with slot k's configuration
    queued = len([slot for slot in range(slots) if slot not in done])
    return queued, slots - queued


def open_condition(
    part: PartitionData,
    profile: Profile,
    hypothesis: str,
    condition: Condition,
    identity: StudyIdentity,
    storage: optuna.storages.RDBStorage,
    log: Log,
) -> tuple[optuna.Study, int]:
    """The condition's study (interrupted trials marked failed, each missing slot queued with its own
    number) and how many trials it still needs."""
    study = condition_study(part, profile, hypothesis, condition, identity, storage, log)
    _record_identity(study, identity, profile, hypothesis, part)
    _fail_interrupted(study)
    remaining, finished = _queue_missing_slots(study, storage, profile.trials_per_condition)
    if remaining:
        log(
            f"{study.study_name}: running {remaining} of {profile.trials_per_condition} trials "
            f"({finished} finished before)"
        )
    else:
        log(f"{study.study_name}: all {profile.trials_per_condition} trials already finished")
    return study, remaining


def _record_identity(
    study: optuna.Study, identity: StudyIdentity, profile: Profile, hypothesis: str, part: PartitionData
) -> None:
    """What the study was trained on, stored with it; `opened_at` says which inputs a partition used last.  The
    objective's name (the dev metric) is stored too, so a dashboard names it (`hanrock dashboard`)."""
    if not study.metric_names:
        with warnings.catch_warnings():  # experimental since Optuna 3.2, stable in use; the dashboard reads it
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([f"dev {part.data.selection[0]}"])
    if "identity" not in study.user_attrs:
        for key, value in {
            "identity": identity.id,
            "identity_parts": identity.parts,
            "profile": profile.name,
            "hypothesis": hypothesis,
            "dataset": part.dataset,
            "task": part.task,
        }.items():
            study.set_user_attr(key, value)
    study.set_user_attr("opened_at", _now())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


ON_CHANGED_INPUTS = ("new_study", "refuse")


@dataclass(frozen=True)
class InputsCheck:
    """How this run's inputs compare with the studies a partition used last."""

    identity: StudyIdentity
    previous: str | None = None  # the identity of the studies the partition used last, when it is another
    differs: tuple[str, ...] = ()  # which parts differ from those
    returning: bool = False  # studies of these very inputs exist (an older run): they are resumed

    def describe(self) -> str:
        if self.previous is None:
            return f"inputs {self.identity.id}"
        verb = "returning to the studies of" if self.returning else "new studies for"
        return (
            f"{verb} inputs {self.identity.id}; {', '.join(self.differs)} differ from {self.previous}, now superseded"
        )


def check_inputs(
    storage: optuna.storages.RDBStorage, bases: list[str], identity: StudyIdentity, on_changed: str = "new_study"
) -> InputsCheck:
    """Compare the inputs with the partition's most recently used stored studies of these names.

    Never resumes a study of other inputs: by default its studies are left as they are (superseded)
    and new ones start; `on_changed="refuse"` stops with what differs instead.
    """
    if on_changed not in ON_CHANGED_INPUTS:
        raise InputError(f"on_changed_inputs must be one of {list(ON_CHANGED_INPUTS)}, not {on_changed!r}")
    ours, others = "", []
    for study in storage.get_all_studies():
        if base_of(study.study_name) not in bases:
            continue
        opened = str(study.user_attrs.get("opened_at", ""))
        if study.user_attrs.get("identity") == identity.id:
            ours = max(ours, opened)
        else:
            others.append((opened, study))
    if not others:
        return InputsCheck(identity)
    opened, latest = max(others, key=lambda pair: pair[0])
    if ours and ours >= opened:
        return InputsCheck(identity)  # these inputs were used last: nothing changed since
    previous = str(latest.user_attrs.get("identity", "(recorded before studies had identities)"))
    differs = tuple(identity.differs(latest.user_attrs.get("identity_parts")))
    if on_changed == "refuse":
        raise InputError(
            f"the stored studies {latest.study_name} were trained on other inputs ({', '.join(differs)} "
            f"differ) and this run refuses to start new ones (on_changed_inputs: refuse)",
            hint="restore the inputs they were trained on, or run with on_changed_inputs: new_study to "
            "start new studies (the old ones stay queryable: hanrock results superseded)",
        )
    return InputsCheck(identity, previous, differs, returning=bool(ours))


def slot_trials(study: optuna.Study, slots: int) -> dict[int, optuna.trial.FrozenTrial]:
    """Slot -> its finished trial, for the profile's slots 0..slots-1 (interrupted attempts left out)."""
    chosen: dict[int, optuna.trial.FrozenTrial] = {}
    for t in study.get_trials(deepcopy=False):
        slot = slot_of(t)
        if _finished(t) and slot < slots and slot not in chosen:
            chosen[slot] = t
    return dict(sorted(chosen.items()))


__all__ = [
    "InputsCheck",
    "partition_held",
    "check_inputs",
    "condition_study",
    "open_condition",
    "open_storage",
    "slot_trials",
    "storage_url",
    "study_base",
    "study_name",
]
