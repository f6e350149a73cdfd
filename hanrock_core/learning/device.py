"""Where a run computes: the torch device, the biGRU recurrence it uses there, and the compiled attention kernel."""

from __future__ import annotations

import torch

from hanrock_core.base.deployment import read_deployment
from hanrock_core.learning.kernels import compile_kernels
from hanrock_core.learning.train_config import TrainConfig


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_recurrence(name: str, device: torch.device) -> str:
    """The biGRU recurrence a run uses: `auto` is torch.nn.GRU (cuDNN) on CUDA, the fused kernel elsewhere."""
    if name == "auto":
        return "torch" if torch.device(device).type == "cuda" else "fused"
    return name


def setup_kernels(config: TrainConfig, device: torch.device) -> bool:
    """Compile the attention kernel when asked (`auto`: on CPU unless HANROCK_COMPILE=0)."""
    wanted = config.compile == "on" or (config.compile == "auto" and device.type == "cpu" and read_deployment().compile)
    return compile_kernels(wanted)


__all__ = ["resolve_device", "resolve_recurrence", "setup_kernels"]
