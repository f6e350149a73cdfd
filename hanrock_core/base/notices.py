"""Reading notices: what a reader left out or could not label, said out loud instead of dropped silently.

A reader refuses damaged input (InputError).  What is legitimately left out -- a session a public
loader also skips, a role nobody rated, AppleDouble files -- is recorded here, shown by
`hanrock load`, logged by the Dagster step and listed in the asset's metadata.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

LOG = logging.getLogger("hanrock.reading")
WARNING, INFO = "warning", "info"


@dataclass(frozen=True)
class Notice:
    """One thing the reader did that changes what data reaches the talkturn table."""

    level: str  # warning: data the user has is not used (or not labelled); info: expected, documented skips
    message: str
    path: str | None = None
    line: int | None = None

    def render(self) -> str:
        where = ""
        if self.path:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        return f"{self.level}: {where}{self.message}"


@dataclass
class Notices:
    """The notices of one read, in the order they were made; `echo` also sends them to the `hanrock.reading` log."""

    items: list[Notice] = field(default_factory=list)
    echo: bool = False

    def add(self, level: str, message: str, path: str | Path | None = None, line: int | None = None) -> None:
        notice = Notice(level, message, str(path) if path is not None else None, line)
        self.items.append(notice)
        if self.echo:
            LOG.log(logging.WARNING if level == WARNING else logging.INFO, notice.render())

    def warn(self, message: str, path: str | Path | None = None, line: int | None = None) -> None:
        self.add(WARNING, message, path, line)

    def info(self, message: str, path: str | Path | None = None, line: int | None = None) -> None:
        self.add(INFO, message, path, line)

    @property
    def warnings(self) -> list[Notice]:
        return [n for n in self.items if n.level == WARNING]

    def frame(self) -> pd.DataFrame:
        """One row per notice (level, where, message) for metadata tables."""
        return pd.DataFrame(
            [
                {"level": n.level, "where": f"{n.path}:{n.line}" if n.line else (n.path or ""), "message": n.message}
                for n in self.items
            ],
            columns=["level", "where", "message"],
        )


def ensure(notices: Notices | None) -> Notices:
    """The caller's notices (which the caller shows), or a fresh collector whose notices go to the log."""
    return notices if notices is not None else Notices(echo=True)
