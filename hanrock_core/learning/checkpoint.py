"""Model states on disk: written atomically, read with `weights_only=True` (tensors only, never code)."""

from __future__ import annotations

from pathlib import Path

import torch

from hanrock_core.base.errors import InputError
from hanrock_core.base.io import atomic_path


def save_checkpoint(state: dict, path: str | Path) -> Path:
    """Write a state_dict atomically."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def load_checkpoint(path: str | Path) -> dict:
    """Read a state_dict saved by save_checkpoint (tensors only: weights_only=True)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file is reported, never used
        raise InputError(
            f"checkpoint cannot be read ({type(exc).__name__}: {exc})", path, hint="delete it and re-run the trial"
        ) from exc


__all__ = ["load_checkpoint", "save_checkpoint"]
