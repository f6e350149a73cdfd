"""Errors that point a user at the exact file, line and column of bad input."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input data or config: says which file and line, what is wrong and what to do."""

    def __init__(
        self,
        problem: str,
        path: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ):
        self.problem = problem
        self.path = str(path) if path is not None else None
        self.line = line
        self.column = column
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        if self.column is not None:
            where += f" (column {self.column!r})"
        text = f"{where}: {self.problem}"
        if self.hint:
            text += f" -> {self.hint}"
        return text
