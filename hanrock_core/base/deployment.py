"""The deployment: every `HANROCK_*` environment variable, declared and read here and nowhere else.

The settings file (`hanrock.yaml`) says what to study; the deployment says where and how it runs on
this machine or cluster: the data directory, how many cores, which executor, where the Optuna studies
and the Celery broker are. `VARIABLES` is the one table of them (the README's Deployment section prints it,
a test keeps the two equal, and another checks that no other module reads a `HANROCK_*` variable).
`definitions.py` picks the Dagster executor from `read_deployment().executor`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hanrock_core.base.errors import InputError

EXECUTORS = ("multiprocess", "in_process", "k8s", "celery")
ENVIRONMENT = "environment"  # where a bad value was found, in an error's place of a file
HOST_LOST_AFTER_S = 60  # a worker busy training still answers pings within seconds; a minute is a lost host


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, what it sets, and what holds when it is unset."""

    name: str
    meaning: str
    unset: str


VARIABLES = (
    Variable(
        "HANROCK_HOME",
        "the data directory (results, studies, models, reports)",
        "the settings' `home`, else ./.hanrock",
    ),
    Variable("HANROCK_CONFIG", "the settings file", "./hanrock.yaml if present, else built-in defaults"),
    Variable("HANROCK_EXECUTOR", f"where Dagster steps run: {' | '.join(EXECUTORS)}", "multiprocess"),
    Variable("HANROCK_CORES", "the cores a study uses: steps at a time and trial worker slots", "every core"),
    Variable("HANROCK_MAX_CONCURRENT", "the old name of HANROCK_CORES (read when that is unset)", ""),
    Variable(
        "HANROCK_TRIAL_WORKERS", "a fixed number of trial workers per step (worker slots not used)", "from the slots"
    ),
    Variable("HANROCK_GPU_STEPS", "training steps at a time (GPU machines)", "1 where nvidia-smi is, else no limit"),
    Variable("HANROCK_COMPILE", "0: never compile the fused kernels on CPU (a profile's `compile: auto`)", "1"),
    Variable(
        "HANROCK_OPTUNA_STORAGE",
        "the Optuna storage URL shared by every step (e.g. PostgreSQL)",
        "one SQLite file per study",
    ),
    Variable(
        "HANROCK_STAGED_RESULTS",
        "1: steps stage result rows as files; the significance step gathers them",
        "0 (rows go to DuckDB)",
    ),
    Variable("HANROCK_CELERY_BROKER", "the Celery broker URL (executor celery), e.g. redis://host:6379/0", ""),
    Variable("HANROCK_CELERY_BACKEND", "the Celery result backend URL", "the broker's URL"),
    Variable(
        "HANROCK_HOST_LOST_AFTER",
        "seconds a Celery worker holding a step may leave pings unanswered before its host is declared lost",
        "60",
    ),
    Variable("HANROCK_K8S_NAMESPACE", "namespace of the step jobs (executor k8s)", "default"),
    Variable(
        "HANROCK_K8S_DATA_CLAIM", "a ReadWriteMany volume claim mounted at the data directory in every step pod", ""
    ),
    Variable("HANROCK_K8S_IMAGE", "the step pods' image", "the code location's image"),
    Variable("HANROCK_DAGSTER_STORAGE", "Dagster's run and event storage URL (read by deploy/celery/dagster.yaml)", ""),
    Variable("HANROCK_CHROMIUM", "the headless browser for screenshots and the report check", "chromium on the PATH"),
)
NAMES = tuple(v.name for v in VARIABLES)
# what a step on another host needs besides the code (k8s pods; Celery workers get it from services.env)
STEP_ENVIRONMENT = (
    "HANROCK_CONFIG",
    "HANROCK_HOME",
    "HANROCK_OPTUNA_STORAGE",
    "HANROCK_TRIAL_WORKERS",
    "HANROCK_CORES",
    "HANROCK_COMPILE",
)


@dataclass(frozen=True)
class Deployment:
    """The deployment as read from one environment; None where a variable is unset."""

    home: Path | None
    config: Path | None
    executor: str
    cores: int  # 0: not given (every core)
    trial_workers: int | None
    gpu_steps: int | None  # None: 1 where nvidia-smi is, else no limit (see `training_steps_at_a_time`)
    compile: bool
    optuna_storage: str | None
    staged_results: bool
    celery_broker: str | None
    celery_backend: str | None
    host_lost_after: int  # seconds
    k8s_namespace: str
    k8s_data_claim: str | None
    k8s_image: str | None
    chromium: str | None
    given: dict[str, str]  # the variables set, by name (what a step on another host must get too)

    def training_steps_at_a_time(self) -> int:
        """Training steps at a time (0: no extra limit): HANROCK_GPU_STEPS, else 1 on a machine with NVIDIA GPUs."""
        if self.gpu_steps is not None:
            return self.gpu_steps
        return 1 if shutil.which("nvidia-smi") else 0

    def step_environment(self) -> list[str]:
        """The names of STEP_ENVIRONMENT that are set here."""
        return [name for name in STEP_ENVIRONMENT if name in self.given]


def _whole(env: Mapping[str, str], name: str, low: int) -> int | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < low:
        raise InputError(
            f"{name} must be a whole number of at least {low}, not {value!r}",
            ENVIRONMENT,
            hint=f"set it to a whole number ({name}={max(low, 4)}) or unset it",
        )
    return number


TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value not in TRUE + FALSE:
        raise InputError(f"{name} must be 1 or 0, not {env[name]!r}", ENVIRONMENT, hint=f"set {name}=1 or {name}=0")
    return value in TRUE


def _text(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name) or None


def _storage_url(env: Mapping[str, str], name: str) -> str | None:
    """A database URL SQLAlchemy can parse, whose dialect it knows (the driver itself is loaded when used)."""
    value = _text(env, name)
    if value is None:
        return None
    import sqlalchemy

    try:
        sqlalchemy.engine.make_url(value).get_dialect()
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ValueError) as exc:
        raise InputError(
            f"{name} is not a database URL SQLAlchemy can open ({type(exc).__name__}: {exc})",
            ENVIRONMENT,
            hint=f"e.g. {name}=postgresql://user:password@host:5432/optuna or sqlite:////path/optuna.db, "
            "or unset it (one SQLite file per study)",
        ) from None
    return value


def read_deployment(env: Mapping[str, str] = os.environ) -> Deployment:
    """The deployment of `env` (the process's environment); a malformed value is an InputError naming it."""
    executor = env.get("HANROCK_EXECUTOR") or "multiprocess"
    if executor not in EXECUTORS:
        raise InputError(
            f"HANROCK_EXECUTOR={executor!r} is not one of {list(EXECUTORS)}",
            ENVIRONMENT,
            hint="set HANROCK_EXECUTOR to one of them, or unset it (multiprocess)",
        )
    cores = _whole(env, "HANROCK_CORES", 0)
    if cores is None:
        cores = _whole(env, "HANROCK_MAX_CONCURRENT", 0)
    broker = _text(env, "HANROCK_CELERY_BROKER")
    return Deployment(
        home=Path(env["HANROCK_HOME"]) if env.get("HANROCK_HOME") else None,
        config=Path(env["HANROCK_CONFIG"]) if env.get("HANROCK_CONFIG") else None,
        executor=executor,
        cores=cores or 0,
        trial_workers=_whole(env, "HANROCK_TRIAL_WORKERS", 1),
        gpu_steps=_whole(env, "HANROCK_GPU_STEPS", 0),
        compile=_flag(env, "HANROCK_COMPILE", True),
        optuna_storage=_storage_url(env, "HANROCK_OPTUNA_STORAGE"),
        staged_results=_flag(env, "HANROCK_STAGED_RESULTS", False),
        celery_broker=broker,
        celery_backend=_text(env, "HANROCK_CELERY_BACKEND") or broker,
        host_lost_after=_whole(env, "HANROCK_HOST_LOST_AFTER", 5) or HOST_LOST_AFTER_S,
        k8s_namespace=env.get("HANROCK_K8S_NAMESPACE") or "default",
        k8s_data_claim=_text(env, "HANROCK_K8S_DATA_CLAIM"),
        k8s_image=_text(env, "HANROCK_K8S_IMAGE"),
        chromium=_text(env, "HANROCK_CHROMIUM"),
        given={name: env[name] for name in NAMES if env.get(name)},
    )


def variables_table() -> str:
    """VARIABLES as the Markdown table the README's Deployment section holds."""
    rows = ["| variable | what it sets | when unset |", "|---|---|---|"]
    rows += [f"| `{v.name}` | {v.meaning} | {v.unset or '(nothing)'} |" for v in VARIABLES]
    return "\n".join(rows)
