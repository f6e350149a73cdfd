"""How much of the machine a study uses: one setting, `HANROCK_CORES` (default: every core).

    Dagster steps at a time    <= cores   (the multiprocess executor's max_concurrent)
    trial workers, all steps   <= cores   (worker slots, worker_pool.py: a training step takes its share)
    torch threads per worker    = 1       (StudyResource.torch_threads; one worker per core)
    training steps at a time    = GPUs    (on a machine with NVIDIA GPUs; else no extra limit)

So steps x workers x threads stays within the cores whatever runs together.  Expert overrides,
each for one of the lines above: `HANROCK_TRIAL_WORKERS` (workers of every step, slots ignored),
`HANROCK_GPU_STEPS` (training steps at a time); `HANROCK_MAX_CONCURRENT` is the old name of
`HANROCK_CORES` and is still read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from hanrock_core.base.deployment import read_deployment


def configured_cores(env: Mapping[str, str] = os.environ) -> int:
    """The cores the user gave (0: not given)."""
    return read_deployment(env).cores


def machine_cores(env: Mapping[str, str] = os.environ) -> int:
    """The cores a study may use on this machine: HANROCK_CORES, else every core."""
    return configured_cores(env) or (os.cpu_count() or 1)


def trial_workers_override(env: Mapping[str, str] = os.environ) -> int | None:
    """HANROCK_TRIAL_WORKERS: a fixed number of trial workers per step (the worker slots are then not used)."""
    return read_deployment(env).trial_workers


def gpu_steps(env: Mapping[str, str] = os.environ) -> int:
    """Training steps at a time on a GPU machine (0: no limit): HANROCK_GPU_STEPS, else 1 where nvidia-smi is."""
    return read_deployment(env).training_steps_at_a_time()


__all__ = ["configured_cores", "gpu_steps", "machine_cores", "trial_workers_override"]
