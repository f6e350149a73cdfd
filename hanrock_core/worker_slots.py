"""How many trial workers a training step may start: its share of the machine's free worker slots.

A machine has HANROCK_MAX_CONCURRENT slots (0 or unset: one per core), lock files under
`$HANROCK_HOME/.slots/`.  A training step says it is waiting for slots (a lock file under
`.slots/waiting/`), gives the steps started with it a moment to say so too, then takes the free
slots divided by the number of waiting steps: a study of a single dataset.task uses every core,
while eight partition steps of one run take one slot each (a worker pool per step costs more than
it gains when every core already has a step: the quick H1 demo took over 15 minutes that way
against 6).  A step that finds no free slot waits for one rather than add a process to a busy
machine.  `HANROCK_TRIAL_WORKERS=N` fixes the number and skips the slots.  Locks are released when
the step ends, or dies.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


def machine_slots(env=os.environ) -> int:
    configured = int(env.get("HANROCK_MAX_CONCURRENT", "0") or 0)
    return configured if configured > 0 else (os.cpu_count() or 1)


@contextmanager
def trial_workers(home: Path, wanted: int, env=os.environ, log: Callable[[str], None] = print,
                  poll_seconds: float = 2.0, settle_seconds: float = 3.0,
                  announced: "StepWaiting | None" = None) -> Iterator[int]:
    """Hold this step's share of the free slots (at least one, waiting for it) for the block; yields how many.

    `announced`: the step's StepWaiting, entered when the step began (it loads its data meanwhile,
    so the steps launched with it have time to announce themselves too)."""
    if env.get("HANROCK_TRIAL_WORKERS"):
        yield max(1, min(wanted, int(env["HANROCK_TRIAL_WORKERS"])))
        return
    folder = home / ".slots"
    slots = machine_slots(env)
    held: list = []
    waiting = announced if announced is not None else StepWaiting(home).__enter__()
    try:
        time.sleep(settle_seconds)  # steps launched together all say they wait before any takes slots
        started, said = time.monotonic(), False
        while not held:
            with _deciding(folder):  # one step at a time counts, takes its share and stops waiting
                held = _take_free_slots(folder, slots, max(1, wanted))
                share = max(1, len(held) // _waiting_steps(folder / "waiting"))
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

    def __init__(self, home: Path):
        folder = home / ".slots" / "waiting"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}.lock"
        self.handle = None

    def __enter__(self) -> "StepWaiting":
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
