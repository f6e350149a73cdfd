"""The Celery app a HAN-ROCK worker runs: `celery -A hanrock_assets.celery_worker worker -c 1`.

It is dagster-celery's step task, configured from the same environment as the runs that send
steps (HANROCK_CELERY_BROKER, HANROCK_CELERY_BACKEND) and with the same settings
(executors.CELERY_SETTINGS: one step per worker process, taken only when it is free, its start
reported so that the launching side can tell which worker holds it: host_watch.py).  A worker
also needs the platform's environment (HANROCK_CONFIG, HANROCK_HOME, HANROCK_OPTUNA_STORAGE,
HANROCK_STAGED_RESULTS, DAGSTER_HOME): deploy/local-services.sh writes it for one machine.
"""

from __future__ import annotations

from dagster_celery.config import DEFAULT_CONFIG, dict_wrapper
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from hanrock_core.base.deployment import read_deployment

from .executors import CELERY_SETTINGS
from .host_watch import GuardedStepTask


def _app_args() -> dict:
    deployment = read_deployment()
    if not deployment.celery_broker:
        raise SystemExit(
            "hanrock: error: HANROCK_CELERY_BROKER is not set\n"
            "  -> export the broker's URL (e.g. redis://host:6379/0; deploy/local-services.sh "
            "writes it to services.env) before starting a worker"
        )
    return {
        "broker": deployment.celery_broker,
        "backend": deployment.celery_backend,
        "config_source": dict_wrapper({**DEFAULT_CONFIG, **CELERY_SETTINGS}),
    }


app = make_app(_app_args())
execute_plan = create_task(app, base=GuardedStepTask)  # drops a step whose run already ended
