"""Dagster code location of the HAN-ROCK platform: `dagster job execute -m hanrock_assets -j main_job`."""

import sys

from hanrock_core.base.errors import InputError

try:  # a bad HANROCK_* value or settings file: its own message and exit code 2, not a traceback through Dagster
    from .definitions import defs
except InputError as _exc:
    print(f"hanrock: error: {_exc}", file=sys.stderr)
    raise SystemExit(2) from None

__all__ = ["defs"]
