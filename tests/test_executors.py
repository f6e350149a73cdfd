"""Executor choice: local multiprocess with a GPU-step limit, in-process, and cluster executors that validate."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from hanrock_assets.executors import GPU_TAG_KEY, executor_for, multiprocess_config
from hanrock_assets.jobs import TRAIN_OPS, study_job
from hanrock_assets.resources import resources
from hanrock_core.base.deployment import read_deployment
from hanrock_core.base.errors import InputError


def _loadable(executor: dg.ExecutorDefinition) -> dg.JobDefinition:
    job = study_job("h1_study", ("h1",), "test", executor=executor)
    defs = dg.Definitions(jobs=[job], resources=resources())
    dg.Definitions.validate_loadable(defs)
    return defs.resolve_job_def("h1_study")


def test_local_executors():
    default = executor_for(read_deployment({}))
    assert default.name == "hanrock_multiprocess"
    env = {"HANROCK_GPU_STEPS": "1", "HANROCK_MAX_CONCURRENT": "2"}
    assert multiprocess_config(read_deployment(env)) == {
        "max_concurrent": 2,
        "tag_concurrency_limits": [{"key": GPU_TAG_KEY, "value": "true", "limit": 1}],
    }
    limited = executor_for(read_deployment(env))
    assert executor_for(read_deployment({"HANROCK_EXECUTOR": "in_process"})) is dg.in_process_executor
    assert _loadable(limited).executor_def.name == "hanrock_multiprocess"
    with pytest.raises(InputError, match="not one of"):
        executor_for(read_deployment({"HANROCK_EXECUTOR": "spark"}))


def test_kubernetes_executor_validates_without_a_cluster():
    pytest.importorskip("dagster_k8s")
    job = _loadable(executor_for(read_deployment({"HANROCK_EXECUTOR": "k8s", "HANROCK_K8S_NAMESPACE": "studies"})))
    assert job.executor_def.name == "hanrock_k8s"
    tags = TRAIN_OPS["h1"].tags
    assert tags[GPU_TAG_KEY] == "true"
    k8s = (
        json.loads(tags["dagster-k8s/config"])
        if isinstance(tags["dagster-k8s/config"], str)
        else tags["dagster-k8s/config"]
    )
    assert k8s["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_celery_executor_validates_without_a_broker():
    pytest.importorskip("dagster_celery")
    job = _loadable(executor_for(read_deployment({"HANROCK_EXECUTOR": "celery"})))
    assert job.executor_def.name == "hanrock_celery"


def test_kubernetes_config_comes_from_the_settings(tmp_path, monkeypatch):
    pytest.importorskip("dagster_k8s")
    from hanrock_assets.executors import executor_config

    settings = tmp_path / "hanrock.yaml"
    settings.write_text(f"home: {tmp_path / 'shared-data'}\n")
    env = {
        "HANROCK_EXECUTOR": "k8s",
        "HANROCK_CONFIG": str(settings),
        "HANROCK_K8S_DATA_CLAIM": "studies-rwx",
        "HANROCK_OPTUNA_STORAGE": "postgresql://hanrock@db:5432/optuna",
        "HANROCK_K8S_IMAGE": "registry/hanrock:1",
    }
    monkeypatch.delenv("HANROCK_HOME")  # the settings' `home` is the data directory here
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = executor_config(read_deployment())["k8s"]
    assert config["volume_mounts"] == [{"name": "hanrock-data", "mountPath": str(tmp_path / "shared-data")}]
    assert config["volumes"][0]["persistentVolumeClaim"]["claimName"] == "studies-rwx"
    assert {"HANROCK_CONFIG", "HANROCK_OPTUNA_STORAGE", "HANROCK_STAGED_RESULTS=1"} <= set(config["env_vars"])
    assert config["job_image"] == "registry/hanrock:1"
    job = _loadable(executor_for(read_deployment(env)))  # dagster-k8s validates the generated config against its schema
    assert job.executor_def.name == "hanrock_k8s"


def test_celery_executor_and_workers_share_their_settings():
    pytest.importorskip("dagster_celery")
    from hanrock_assets.executors import CELERY_SETTINGS, celery_config

    config = celery_config(read_deployment({"HANROCK_CELERY_BROKER": "redis://broker:6379/0"}))
    assert config["broker"] == {"env": "HANROCK_CELERY_BROKER"} and config["backend"] == {
        "env": "HANROCK_CELERY_BROKER"
    }
    assert config["config_source"] == CELERY_SETTINGS
    # one step per worker process, acknowledged when done, its start reported (the host watch), results retried
    wanted = {"worker_prefetch_multiplier": 1, "task_acks_late": True, "task_track_started": True}
    assert wanted.items() <= CELERY_SETTINGS.items() and CELERY_SETTINGS["result_backend_always_retry"]
