"""Dagster code location of the HAN-ROCK platform: `dagster job execute -m hanrock_assets -j main_job`."""

from .definitions import defs

__all__ = ["defs"]
