"""Where steps run, chosen by environment (documented in the README's deployment section).

HANROCK_EXECUTOR = multiprocess (default) | in_process | k8s | celery
HANROCK_CORES            the cores a study uses: steps at a time (multiprocess, k8s; unset = one per
                         core / no limit) and worker slots (hanrock_core/base/concurrency.py)
HANROCK_GPU_STEPS        training steps (tag hanrock/gpu=true) at a time; default 1 when nvidia-smi
                         is on the PATH, else no extra limit
HANROCK_K8S_NAMESPACE    namespace of the step jobs (k8s)
HANROCK_K8S_DATA_CLAIM   a ReadWriteMany volume claim mounted at the settings' data directory in every step pod (k8s)
HANROCK_K8S_IMAGE        the step pods' image (k8s; default: the image of the run's code location)
HANROCK_CELERY_BROKER    broker URL (celery), e.g. redis://host:6379/0
HANROCK_CELERY_BACKEND   result backend URL (celery); default: the broker's URL
(deploy/local-services.sh and the README's Deployment section: the services and the workers of a Celery run)
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from hanrock_core.base.concurrency import configured_cores, gpu_steps
from hanrock_core.preparation.settings import Settings

GPU_TAG_KEY = "hanrock/gpu"
# a GPU for every training step when it runs as a Kubernetes job (ignored by other executors)
TRAINING_STEP_TAGS = {
    GPU_TAG_KEY: "true",
    "dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}}},
}
KINDS = ("multiprocess", "in_process", "k8s", "celery")


def multiprocess_config(env: Mapping[str, str] = os.environ) -> dict:
    """Config of the local executor: steps at a time, and at most N training (GPU) steps at a time."""
    config: dict = {"max_concurrent": configured_cores(env)}
    if gpu_steps(env):
        config["tag_concurrency_limits"] = [{"key": GPU_TAG_KEY, "value": "true", "limit": gpu_steps(env)}]
    return config


# the same on the workers (hanrock_assets/celery_worker.py): a worker takes one step at a time
# and takes the next only when it is free, so no step waits behind a long training step elsewhere
CELERY_SETTINGS = {"worker_prefetch_multiplier": 1, "task_acks_late": True}


def celery_config(env: Mapping[str, str] = os.environ) -> dict:
    """The Celery executor's config: broker and result backend from the environment (read when a run starts)."""
    config: dict = {"config_source": dict(CELERY_SETTINGS)}
    if env.get("HANROCK_CELERY_BROKER"):
        config["broker"] = {"env": "HANROCK_CELERY_BROKER"}
        backend = "HANROCK_CELERY_BACKEND" if env.get("HANROCK_CELERY_BACKEND") else "HANROCK_CELERY_BROKER"
        config["backend"] = {"env": backend}
    return config


# what a step pod needs besides the code (Celery workers get the same from services.env: README, Deployment)
STEP_ENVIRONMENT = (
    "HANROCK_CONFIG",
    "HANROCK_HOME",
    "HANROCK_OPTUNA_STORAGE",
    "HANROCK_TRIAL_WORKERS",
    "HANROCK_CORES",
    "HANROCK_COMPILE",
)


def k8s_config(settings: Settings, env: Mapping[str, str] = os.environ) -> dict:
    """The Kubernetes executor's config, from the platform's settings and the environment.

    Every step pod gets the variables of STEP_ENVIRONMENT that are set here, stages its result rows
    (HANROCK_STAGED_RESULTS=1: the significance step gathers them into DuckDB, so pods never share a
    DuckDB lock), and, with HANROCK_K8S_DATA_CLAIM, the data directory of the settings mounted at the
    same path in every pod.
    """
    config: dict = {
        "max_concurrent": configured_cores(env),
        "job_namespace": env.get("HANROCK_K8S_NAMESPACE", "default"),
        "env_vars": [name for name in STEP_ENVIRONMENT if env.get(name)] + ["HANROCK_STAGED_RESULTS=1"],
    }
    if env.get("HANROCK_K8S_DATA_CLAIM"):
        config["volumes"] = [
            {"name": "hanrock-data", "persistentVolumeClaim": {"claimName": env["HANROCK_K8S_DATA_CLAIM"]}}
        ]
        config["volume_mounts"] = [{"name": "hanrock-data", "mountPath": str(settings.home.root)}]
    if env.get("HANROCK_K8S_IMAGE"):
        config["job_image"] = env["HANROCK_K8S_IMAGE"]
    return config


def executor_from_env(env: Mapping[str, str] = os.environ) -> dg.ExecutorDefinition:
    """The executor the environment asks for; the cluster ones need `pip install -e ".[cluster]"`."""
    kind = env.get("HANROCK_EXECUTOR", "multiprocess")
    if kind == "in_process":
        return dg.in_process_executor
    if kind == "multiprocess":
        return dg.multiprocess_executor.configured(multiprocess_config(env), name="hanrock_multiprocess")
    if kind == "k8s":
        from dagster_k8s import k8s_job_executor

        from .resources import platform_settings

        return k8s_job_executor.configured(k8s_config(platform_settings(), env), name="hanrock_k8s")
    if kind == "celery":
        from dagster_celery import celery_executor

        return celery_executor.configured(celery_config(env), name="hanrock_celery")
    raise ValueError(f"HANROCK_EXECUTOR={kind!r} is not one of {KINDS}")


def executor_config(env: Mapping[str, str] = os.environ) -> dict:
    """The config the environment's executor gets (what `python -m hanrock_assets.executors` prints)."""
    kind = env.get("HANROCK_EXECUTOR", "multiprocess")
    if kind == "k8s":
        from .resources import platform_settings

        return {"k8s": k8s_config(platform_settings(), env)}
    if kind == "celery":
        return {"celery": celery_config(env)}
    return {kind: multiprocess_config(env) if kind == "multiprocess" else {}}


if __name__ == "__main__":
    import yaml

    print(yaml.safe_dump(executor_config(), sort_keys=False), end="")
