"""Executor choice: local multiprocess with a GPU-step limit, in-process, and cluster executors that validate."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from hanrock_assets.executors import GPU_TAG_KEY, executor_from_env, multiprocess_config
from hanrock_assets.jobs import TRAIN_OPS, study_job
from hanrock_assets.resources import resources


def _loadable(executor: dg.ExecutorDefinition) -> dg.JobDefinition:
    job = study_job("h1_study", ("h1",), "test", executor=executor)
    defs = dg.Definitions(jobs=[job], resources=resources())
    dg.Definitions.validate_loadable(defs)
    return defs.resolve_job_def("h1_study")


def test_local_executors():
    default = executor_from_env({})
    assert default.name == "hanrock_multiprocess"
    env = {"HANROCK_GPU_STEPS": "1", "HANROCK_MAX_CONCURRENT": "2"}
    assert multiprocess_config(env) == {"max_concurrent": 2,
                                        "tag_concurrency_limits": [{"key": GPU_TAG_KEY, "value": "true", "limit": 1}]}
    limited = executor_from_env(env)
    assert executor_from_env({"HANROCK_EXECUTOR": "in_process"}) is dg.in_process_executor
    assert _loadable(limited).executor_def.name == "hanrock_multiprocess"
    with pytest.raises(ValueError, match="not one of"):
        executor_from_env({"HANROCK_EXECUTOR": "spark"})


def test_kubernetes_executor_validates_without_a_cluster():
    pytest.importorskip("dagster_k8s")
    job = _loadable(executor_from_env({"HANROCK_EXECUTOR": "k8s", "HANROCK_K8S_NAMESPACE": "studies"}))
    assert job.executor_def.name == "hanrock_k8s"
    tags = TRAIN_OPS["h1"].tags
    assert tags[GPU_TAG_KEY] == "true"
    k8s = json.loads(tags["dagster-k8s/config"]) if isinstance(tags["dagster-k8s/config"], str) else tags["dagster-k8s/config"]
    assert k8s["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_celery_executor_validates_without_a_broker():
    pytest.importorskip("dagster_celery")
    job = _loadable(executor_from_env({"HANROCK_EXECUTOR": "celery"}))
    assert job.executor_def.name == "hanrock_celery"
