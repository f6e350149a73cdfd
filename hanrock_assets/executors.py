"""Where steps run: the Dagster executor of the deployment's HANROCK_EXECUTOR (multiprocess, in_process,
k8s, celery), configured from the deployment (`hanrock_core/base/deployment.py` declares and reads every
variable; the README's Deployment section lists them). `definitions.py` calls `executor_for(read_deployment())`.
"""

from __future__ import annotations

import dagster as dg

from hanrock_core.base.deployment import Deployment, read_deployment
from hanrock_core.preparation.settings import Settings

GPU_TAG_KEY = "hanrock/gpu"
# a GPU for every training step when it runs as a Kubernetes job (ignored by other executors)
TRAINING_STEP_TAGS = {
    GPU_TAG_KEY: "true",
    "dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}}},
}


def multiprocess_config(deployment: Deployment) -> dict:
    """Config of the local executor: steps at a time, and at most N training (GPU) steps at a time."""
    config: dict = {"max_concurrent": deployment.cores}
    if limit := deployment.training_steps_at_a_time():
        config["tag_concurrency_limits"] = [{"key": GPU_TAG_KEY, "value": "true", "limit": limit}]
    return config


# the same on the workers (hanrock_assets/celery_worker.py): a worker takes one step at a time
# and takes the next only when it is free, so no step waits behind a long training step elsewhere; it
# reports a step's start with its name, so that the launching side can watch for a lost host (host_watch.py).
# Redis restarting (README, "Faults"): reading or storing a step's result and sending a step are retried
# with a backoff for up to about two minutes rather than failing the run at the first refused connection.
CELERY_SETTINGS = {
    "worker_prefetch_multiplier": 1,
    "task_acks_late": True,
    "task_track_started": True,
    "result_backend_always_retry": True,
    "result_backend_max_retries": 30,  # 10 ms doubling up to 5 s between tries: about 2 minutes in all
    "result_backend_max_sleep_between_retries_ms": 5000,
    "task_publish_retry_policy": {"max_retries": 30, "interval_start": 0, "interval_step": 1, "interval_max": 5},
    "worker_cancel_long_running_tasks_on_connection_loss": False,  # a training step goes on; see host_watch.py
}


def celery_config(deployment: Deployment) -> dict:
    """The Celery executor's config: broker and result backend named by their variables (read when a run starts)."""
    config: dict = {"config_source": dict(CELERY_SETTINGS)}
    if deployment.celery_broker:
        config["broker"] = {"env": "HANROCK_CELERY_BROKER"}
        given = "HANROCK_CELERY_BACKEND" in deployment.given
        config["backend"] = {"env": "HANROCK_CELERY_BACKEND" if given else "HANROCK_CELERY_BROKER"}
    return config


def k8s_config(settings: Settings, deployment: Deployment) -> dict:
    """The Kubernetes executor's config, from the platform's settings and the environment.

    Every step pod gets the variables of STEP_ENVIRONMENT that are set here, stages its result rows
    (HANROCK_STAGED_RESULTS=1: the significance step gathers them into DuckDB, so pods never share a
    DuckDB lock), and, with HANROCK_K8S_DATA_CLAIM, the data directory of the settings mounted at the
    same path in every pod.
    """
    config: dict = {
        "max_concurrent": deployment.cores,
        "job_namespace": deployment.k8s_namespace,
        "env_vars": deployment.step_environment() + ["HANROCK_STAGED_RESULTS=1"],
    }
    if deployment.k8s_data_claim:
        config["volumes"] = [
            {"name": "hanrock-data", "persistentVolumeClaim": {"claimName": deployment.k8s_data_claim}}
        ]
        config["volume_mounts"] = [{"name": "hanrock-data", "mountPath": str(settings.home.root)}]
    if deployment.k8s_image:
        config["job_image"] = deployment.k8s_image
    return config


def executor_for(deployment: Deployment) -> dg.ExecutorDefinition:
    """The executor the deployment names; the cluster ones need `pip install -e ".[cluster]"`."""
    if deployment.executor == "in_process":
        return dg.in_process_executor
    if deployment.executor == "multiprocess":
        return dg.multiprocess_executor.configured(multiprocess_config(deployment), name="hanrock_multiprocess")
    if deployment.executor == "k8s":
        from dagster_k8s import k8s_job_executor

        from .resources import platform_settings

        return k8s_job_executor.configured(k8s_config(platform_settings(), deployment), name="hanrock_k8s")
    from .host_watch import watched_celery_executor

    executor = watched_celery_executor(deployment.host_lost_after)
    return executor.configured(celery_config(deployment), name="hanrock_celery")


def executor_config(deployment: Deployment) -> dict:
    """The config the deployment's executor gets (what `python -m hanrock_assets.executors` prints)."""
    kind = deployment.executor
    if kind == "k8s":
        from .resources import platform_settings

        return {"k8s": k8s_config(platform_settings(), deployment)}
    if kind == "celery":
        return {"celery": celery_config(deployment)}
    return {kind: multiprocess_config(deployment) if kind == "multiprocess" else {}}


if __name__ == "__main__":
    import yaml

    print(yaml.safe_dump(executor_config(read_deployment()), sort_keys=False), end="")
