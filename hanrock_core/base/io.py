"""Atomic writes: a failed run never leaves a half-written output behind.

Each write goes to a temporary sibling `.<name>.<host>-<pid>.<random>.tmp` that is renamed onto the
target when complete.  A writer killed in the middle (kill -9, power loss) leaves its temporary
behind; the next write to the same target removes it once its process is gone (same host) or it
is over an hour old (another host sharing the volume).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

_UMASK = os.umask(0)
os.umask(_UMASK)  # read once: files we write get the usual permissions, not mkstemp's 0600
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"
STALE_AFTER_S = 3600.0


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}.{_HOST}-{os.getpid()}."


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_stale(tmp: Path, target: Path) -> bool:
    """A temporary of a writer that is gone: its process ended (this host) or it is over an hour old."""
    try:
        age = time.time() - tmp.lstat().st_mtime
    except FileNotFoundError:
        return False
    if age > STALE_AFTER_S:
        return True
    m = re.match(rf"^\.{re.escape(target.name)}\.(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)\.", tmp.name)
    return bool(m) and m["host"] == _HOST and not _process_alive(int(m["pid"]))


def remove_stale_temporaries(target: str | Path) -> list[Path]:
    """Remove the temporaries that interrupted writes of `target` left beside it; return what was removed."""
    target = Path(target)
    removed = []
    for tmp in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        if not _is_stale(tmp, target):
            continue
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(target), suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_directory(target: str | Path, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling directory that becomes `target` only if the block succeeds.

    Without `replace`, `target` must not exist or be empty (a corpus is never mixed into an
    existing one); with it, an existing `target` is swapped out whole once the new one is complete.
    """
    target = Path(target)
    if not replace and target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} exists and is not empty; choose a new directory or remove it")
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = Path(tempfile.mkdtemp(prefix=_temporary_prefix(target), suffix=".tmp", dir=target.parent))
    old = tmp.with_name(tmp.name.removesuffix(".tmp") + ".old.tmp")
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)
        if target.exists():
            os.replace(target, old) if replace else target.rmdir()
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, old):
            if leftover.exists():
                shutil.rmtree(leftover)


def move_directory(source: str | Path, target: str | Path) -> Path:
    """Move a directory to `target` (same file system), swapping out an existing `target` whole."""
    source, target = Path(source), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=_temporary_prefix(target), suffix=".old.tmp", dir=target.parent))
        os.replace(target, old)
    os.replace(source, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def write_parquet_atomic(df: pd.DataFrame, target: str | Path) -> Path:
    """Write a DataFrame as Parquet so that readers never see a partial file."""
    with atomic_path(target) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(target)
