"""How many trial workers a training step may start: the machine's free worker slots.

A machine has HANROCK_MAX_CONCURRENT slots (0 or unset: one per core), lock files under
`$HANROCK_HOME/.slots/`.  A training step takes the slots that are free when it starts, so a study
of a single dataset.task uses every core while eight partition steps running side by side take one
each.  A step that finds no free slot waits for one: running anyway would put more training
processes than cores on the machine (measured: the quick H1 demo went from 6 to over 15 minutes on
2 cores).  `HANROCK_TRIAL_WORKERS=N` fixes the number and skips the slots.  Locks are released when
the step ends, or dies.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


def machine_slots(env=os.environ) -> int:
    configured = int(env.get("HANROCK_MAX_CONCURRENT", "0") or 0)
    return configured if configured > 0 else (os.cpu_count() or 1)


@contextmanager
def trial_workers(home: Path, wanted: int, env=os.environ, log: Callable[[str], None] = print,
                  poll_seconds: float = 2.0) -> Iterator[int]:
    """Hold up to `wanted` free slots for the duration of the block (waiting for the first); yields how many."""
    if env.get("HANROCK_TRIAL_WORKERS"):
        yield max(1, min(wanted, int(env["HANROCK_TRIAL_WORKERS"])))
        return
    folder = home / ".slots"
    folder.mkdir(parents=True, exist_ok=True)
    held: list = []
    try:
        held = _take_free_slots(folder, machine_slots(env), max(1, wanted))
        if not held:
            log(f"all {machine_slots(env)} worker slots of this machine are busy (other training steps); "
                "waiting for one to free up")
            started = time.monotonic()
            while not held:
                time.sleep(poll_seconds)
                held = _take_free_slots(folder, machine_slots(env), max(1, wanted))
            log(f"took {len(held)} worker slot(s) after {time.monotonic() - started:.0f} s")
        yield len(held)
    finally:
        for handle in held:
            handle.close()


def _take_free_slots(folder: Path, slots: int, wanted: int) -> list:
    """Lock up to `wanted` of the slot files that nobody holds; returns the open (locked) handles."""
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
