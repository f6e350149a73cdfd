"""How many trial workers a training step may start: the machine's free worker slots.

A machine has HANROCK_MAX_CONCURRENT slots (0 or unset: one per core), lock files under
`$HANROCK_HOME/.slots/`.  A training step takes the slots that are free when it starts (at least
one worker runs regardless), so a study of a single dataset.task uses every core while eight
partition steps running side by side take one each.  `HANROCK_TRIAL_WORKERS=N` fixes the number.
Locks are released when the step ends, or dies.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def machine_slots(env=os.environ) -> int:
    configured = int(env.get("HANROCK_MAX_CONCURRENT", "0") or 0)
    return configured if configured > 0 else (os.cpu_count() or 1)


@contextmanager
def trial_workers(home: Path, wanted: int, env=os.environ) -> Iterator[int]:
    """Hold up to `wanted` free slots for the duration of the block; yields the number of workers (>= 1)."""
    if env.get("HANROCK_TRIAL_WORKERS"):
        yield max(1, min(wanted, int(env["HANROCK_TRIAL_WORKERS"])))
        return
    folder = home / ".slots"
    folder.mkdir(parents=True, exist_ok=True)
    held = []
    try:
        for i in range(machine_slots(env)):
            if len(held) >= wanted:
                break
            handle = open(folder / f"{i}.lock", "a")  # noqa: SIM115 - held open: the lock lives as long as the file
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held.append(handle)
            except BlockingIOError:
                handle.close()
        yield max(1, len(held))
    finally:
        for handle in held:
            handle.close()
