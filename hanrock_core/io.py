"""Atomic writes: a failed run never leaves a half-written output behind."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd

from .errors import InputError

_UMASK = os.umask(0)
os.umask(_UMASK)  # read once: files we write get the usual permissions, not mkstemp's 0600


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
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
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling directory that becomes `target` only if the block succeeds.

    `target` must not exist or be empty: a corpus is never mixed into an existing one.
    """
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} exists and is not empty; choose a new directory or remove it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            target.rmdir()
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_parquet_atomic(df: pd.DataFrame, target: str | Path) -> Path:
    """Write a DataFrame as Parquet so that readers never see a partial file."""
    with atomic_path(target) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(target)


def read_tool_csv(path: str | Path, tool: str, required, hint: str | None = None, **read_kwargs) -> pd.DataFrame:
    """A preprocessing tool's CSV with column names stripped; unreadable files and missing columns are named."""
    try:
        frame = pd.read_csv(path, skipinitialspace=True, **read_kwargs)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot parse {tool} CSV: {exc}", path) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    for name in required:
        if name not in frame.columns:
            raise InputError(f"{tool} CSV lacks column {name!r}", path, 1, name, hint=hint)
    return frame
