"""Where steps run, chosen by environment (documented in the README's deployment section).

HANROCK_EXECUTOR = multiprocess (default) | in_process | k8s | celery
HANROCK_MAX_CONCURRENT   steps at a time (multiprocess, k8s; 0 = one per core / no limit)
HANROCK_GPU_STEPS        training steps (tag hanrock/gpu=true) at a time; default 1 when nvidia-smi
                         is on the PATH, else no extra limit
HANROCK_K8S_NAMESPACE    namespace of the step jobs (k8s)
HANROCK_CELERY_BROKER    broker URL (celery)
"""

from __future__ import annotations

import os
import shutil
from typing import Mapping

import dagster as dg

GPU_TAG_KEY = "hanrock/gpu"
# a GPU for every training step when it runs as a Kubernetes job (ignored by other executors)
TRAINING_STEP_TAGS = {
    GPU_TAG_KEY: "true",
    "dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}}},
}
KINDS = ("multiprocess", "in_process", "k8s", "celery")


def _gpu_limit(env: Mapping[str, str]) -> int:
    if env.get("HANROCK_GPU_STEPS"):
        return int(env["HANROCK_GPU_STEPS"])
    return 1 if shutil.which("nvidia-smi") else 0


def multiprocess_config(env: Mapping[str, str] = os.environ) -> dict:
    """Config of the local executor: steps at a time, and at most N training (GPU) steps at a time."""
    config: dict = {"max_concurrent": int(env.get("HANROCK_MAX_CONCURRENT", "0"))}
    if _gpu_limit(env):
        config["tag_concurrency_limits"] = [{"key": GPU_TAG_KEY, "value": "true", "limit": _gpu_limit(env)}]
    return config


def executor_from_env(env: Mapping[str, str] = os.environ) -> dg.ExecutorDefinition:
    """The executor the environment asks for; the cluster ones need `pip install -e ".[cluster]"`."""
    kind = env.get("HANROCK_EXECUTOR", "multiprocess")
    max_concurrent = int(env.get("HANROCK_MAX_CONCURRENT", "0"))
    if kind == "in_process":
        return dg.in_process_executor
    if kind == "multiprocess":
        return dg.multiprocess_executor.configured(multiprocess_config(env), name="hanrock_multiprocess")
    if kind == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor.configured(
            {"max_concurrent": max_concurrent, "job_namespace": env.get("HANROCK_K8S_NAMESPACE", "default")},
            name="hanrock_k8s")
    if kind == "celery":
        from dagster_celery import celery_executor

        broker = env.get("HANROCK_CELERY_BROKER")
        return celery_executor.configured({"broker": {"env": "HANROCK_CELERY_BROKER"}} if broker else {},
                                          name="hanrock_celery")
    raise ValueError(f"HANROCK_EXECUTOR={kind!r} is not one of {KINDS}")
