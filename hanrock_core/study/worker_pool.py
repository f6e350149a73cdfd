"""Where a partition's trials run: worker processes, as many as the step's share of the machine.

A machine has `HANROCK_CORES` worker slots (0 or unset: one per core; the old name
`HANROCK_MAX_CONCURRENT` is read too), lock files under `$HANROCK_HOME/.slots/`.  A training step
says it is waiting for slots (a lock file under `.slots/waiting/`), gives the steps started with
it a moment to say so too, then takes the free slots divided by the number of waiting steps: a
study of a single dataset.task uses every core, while eight partition steps of one run take one
slot each.  A step that finds no free slot waits for one rather than add a process to a busy
machine.  `HANROCK_TRIAL_WORKERS=N` fixes the number and skips the slots.  Locks are released when
the step ends, or dies.  Workers are started with `spawn` (never `fork`: a forked child of a
process whose torch threads hold locks can wait forever) and die with their step; trial k gives
the same result in any worker (median_stopping.py).
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
import torch

from hanrock_core.base.concurrency import machine_cores, trial_workers_override
from hanrock_core.base.home import Home, TrialFiles
from hanrock_core.study.hypotheses import Condition
from hanrock_core.study.objective import Objective, run_trials
from hanrock_core.study.partition_data import PartitionData
from hanrock_core.study.profiles import Profile
from hanrock_core.study.replicates import train_missing
from hanrock_core.study.study_identity import StudyIdentity
from hanrock_core.study.study_storage import claiming_trials, condition_study, open_storage

Log = Callable[[str], None]


@contextmanager
def trial_workers(
    home: Home,
    wanted: int,
    env=os.environ,
    log: Callable[[str], None] = print,
    poll_seconds: float = 2.0,
    settle_seconds: float = 3.0,
    announced: StepWaiting | None = None,
) -> Iterator[int]:
    """Hold this step's share of the free slots (at least one, waiting for it) for the block; yields how many.

    `announced`: the step's StepWaiting, entered when the step began (it loads its data meanwhile,
    so the steps launched with it have time to announce themselves too)."""
    fixed = trial_workers_override(env)
    if fixed:
        yield max(1, min(wanted, fixed))
        return
    folder = home.slots
    slots = machine_cores(env)
    held: list = []
    waiting = announced if announced is not None else StepWaiting(home).__enter__()
    try:
        time.sleep(settle_seconds)  # steps launched together all say they wait before any takes slots
        started, said = time.monotonic(), False
        while not held:
            with _deciding(folder):  # one step at a time counts, takes its share and stops waiting
                held = _take_free_slots(folder, slots, max(1, wanted))
                share = max(1, len(held) // _waiting_steps(home.waiting_steps))
                for handle in held[share:]:
                    handle.close()
                held = held[:share]
                if held:
                    waiting.__exit__(None, None, None)
            if not held:
                if not said:
                    log(f"all {slots} worker slots of this machine are busy (other training steps); waiting for one")
                    said = True
                time.sleep(poll_seconds)
        if said:
            log(f"took {len(held)} worker slot(s) after {time.monotonic() - started:.0f} s")
        yield len(held)
    finally:
        for handle in held:
            handle.close()
        waiting.__exit__(None, None, None)


@contextmanager
def _deciding(folder: Path) -> Iterator[None]:
    """The machine-wide lock under which a step takes its slots."""
    with open(folder / "decide.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


class StepWaiting:
    """A locked file that says 'a training step here will want slots' until exited (exiting twice is harmless)."""

    def __init__(self, home: Home):
        folder = home.waiting_steps
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}.lock"
        self.handle = None

    def __enter__(self) -> StepWaiting:
        self.handle = open(self.path, "w")  # noqa: SIM115 - the lock lives as long as the open file
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            self.path.unlink(missing_ok=True)
            self.handle.close()
            self.handle = None


def _waiting_steps(folder: Path) -> int:
    """How many steps wait for slots now (files still locked; a dead step's file is removed)."""
    count = 0
    for path in folder.glob("*.lock"):
        try:
            with open(path, "a") as probe:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                path.unlink(missing_ok=True)  # nobody holds it: left by a killed step
        except BlockingIOError:
            count += 1
        except FileNotFoundError:
            pass
    return max(1, count)


def _take_free_slots(folder: Path, slots: int, wanted: int) -> list:
    """Lock up to `wanted` of the slot files that nobody holds; returns the open (locked) handles."""
    folder.mkdir(parents=True, exist_ok=True)
    held = []
    for i in range(slots):
        if len(held) >= wanted:
            break
        handle = open(folder / f"{i}.lock", "a")  # noqa: SIM115 - held open: the lock lives as long as the file
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append(handle)
        except BlockingIOError:
            handle.close()
    return held


_WORKER: dict = {}


def _die_with_parent() -> None:
    """Linux: a worker gets SIGKILL when its training step dies, so no orphan writes to the study."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _init_worker(part, profile, hypothesis, identity, url, files, threads, queue) -> None:
    _die_with_parent()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if threads:
        torch.set_num_threads(threads)
    _WORKER.update(
        part=part,
        profile=profile,
        hypothesis=hypothesis,
        identity=identity,
        storage=open_storage(url),
        url=url,
        files=files,
        log=queue.put,
    )


def _trial_job(condition: Condition) -> None:
    """One trial of `condition` in a worker process."""
    w = _WORKER
    study = condition_study(w["part"], w["profile"], w["hypothesis"], condition, w["identity"], w["storage"], w["log"])
    objective = Objective(w["part"], w["profile"], w["hypothesis"], condition, w["files"], w["log"])
    run_trials(study, objective, 1, claim=lambda: claiming_trials(w["url"]))


def _pool(workers: int, initializer, initargs: tuple, submit, log: Log) -> None:
    """A `spawn` pool of `workers` processes; the workers' log lines (a queue, the initializer's last
    argument) reach `log` as they come; a worker's error stops the step with its message."""
    import queue as queues
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    context = multiprocessing.get_context("spawn")
    lines = context.Manager().Queue()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=initializer, initargs=(*initargs, lines)) as pool:
        pending = set(submit(pool))
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            while True:
                try:
                    log(lines.get_nowait())
                except queues.Empty:
                    break
            for future in done:
                future.result()  # a worker's error (bad input, a bug) stops the step with its message


def run_in_workers(
    jobs: list[Condition],
    workers: int,
    part: PartitionData,
    profile: Profile,
    hypothesis: str,
    identity: StudyIdentity,
    url: str,
    files: TrialFiles,
    threads: int | None,
    log: Log,
) -> None:
    """Run one trial per job in `workers` processes; their log lines reach `log` as they come."""
    threads = threads or torch.get_num_threads()  # as here: the same arithmetic, so the same results
    log(f"{part.key}: {len(jobs)} trials on {workers} workers")
    _pool(
        workers,
        _init_worker,
        (part, profile, hypothesis, identity, url, files, threads),
        lambda pool: [pool.submit(_trial_job, condition) for condition in jobs],
        log,
    )


def _init_replicate_worker(data, threads, queue) -> None:
    _die_with_parent()
    if threads:
        torch.set_num_threads(threads)
    _WORKER.update(data=data, log=queue.put)


def _replicate_job(job) -> None:
    train_missing(_WORKER["data"], [job], _WORKER["log"])


def run_replicates_in_workers(jobs: list, workers: int, part: PartitionData, threads: int | None, log: Log) -> None:
    """Train seed replicates in `workers` processes (each writes its file; the same results as one process)."""
    threads = threads or torch.get_num_threads()
    log(f"{part.key}: {len(jobs)} seed replicates on {workers} workers")
    _pool(
        workers,
        _init_replicate_worker,
        (part.data, threads),
        lambda pool: [pool.submit(_replicate_job, job) for job in jobs],
        log,
    )


__all__ = ["StepWaiting", "run_in_workers", "run_replicates_in_workers", "trial_workers"]
