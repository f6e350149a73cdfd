"""Lost hosts in a Celery run: the launching side watches the workers that hold its started steps.

dagster-celery waits for each step's Celery result; a worker whose whole host vanished never sends
one, and Redis keeps the unacknowledged message for its visibility timeout (an hour), so the run would
wait that long or forever.  `HostWatch` asks the workers holding started steps for a ping every few
seconds (Celery's remote control, through the broker); a worker that has not answered for
HANROCK_HOST_LOST_AFTER seconds is declared lost: its step's result is set to a failure that names the
worker, its host and the step, and the task is revoked.  The run then fails like one with a killed
worker process, and the same command resumes it.  `GuardedStepTask` is the worker's half: a step
message delivered again after its run ended (Redis hands an unacknowledged message out again once the
visibility timeout passes) is dropped rather than run, so no trial is trained by a run nobody waits for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import celery
from celery.exceptions import WorkerLostError
from dagster import DagsterEventType, DagsterInstance, executor, multiple_process_executor_requirements
from dagster._core.execution.retries import RetryMode
from dagster._grpc.types import ExecuteStepArgs
from dagster._serdes import unpack_value
from dagster_celery.core_execution_loop import core_celery_execution_loop
from dagster_celery.executor import CELERY_CONFIG, CeleryExecutor, _submit_task
from dagster_celery.make_app import make_app

Log = Callable[[str], None]
PING_EVERY_S = 2.0  # seconds between two pings of the workers holding steps
PING_TIMEOUT_S = 1.0  # how long one ping waits for answers


class HostWatch:
    """Pings the workers that hold started steps; fails the step of one silent for `lost_after` seconds."""

    def __init__(self, app: celery.Celery, lost_after: float, log: Log) -> None:
        self.app, self.lost_after, self.log = app, lost_after, log
        self.steps: dict[str, str] = {}  # step key -> Celery task id, while its result is not ready
        self.last_answer: dict[str, float] = {}  # worker name -> time of its last answer (or first sight)
        self.lost: list[str] = []  # the messages of the steps declared lost
        self.outage = False  # the last round could not reach the broker: the next one restarts every clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="hanrock-host-watch", daemon=True)

    def add(self, step_key: str, task_id: str) -> None:
        with self._lock:
            self.steps[step_key] = task_id

    def __enter__(self) -> HostWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=PING_EVERY_S + PING_TIMEOUT_S + 5)

    def _watch(self) -> None:
        while not self._stop.wait(PING_EVERY_S):
            try:
                self.check(time.monotonic())
            except Exception as exc:  # the broker restarting: the next round asks again
                self.outage = True
                self.log(f"host watch: could not ask the workers ({type(exc).__name__}: {exc}); asking again")

    def holders(self) -> dict[str, tuple[str, str]]:
        """Step key -> (task id, worker name) of every started step whose result is not in yet."""
        with self._lock:
            steps = dict(self.steps)
        held = {}
        for key, task_id in steps.items():
            result = self.app.AsyncResult(task_id)
            if result.ready():
                with self._lock:
                    self.steps.pop(key, None)
            elif result.state == "STARTED" and isinstance(result.info, dict) and result.info.get("hostname"):
                held[key] = (task_id, result.info["hostname"])
        return held

    def check(self, now: float) -> None:
        """One round: ping the holders, and fail the steps of workers silent for longer than `lost_after`."""
        held = self.holders()
        if not held:
            return
        workers = sorted({name for _, name in held.values()})
        answers = self.app.control.ping(destination=workers, timeout=PING_TIMEOUT_S) or []
        if self.outage:  # the broker is back: a worker's silence counts from now (it reconnects too)
            self.outage = False
            self.last_answer.update(dict.fromkeys(workers, now))
        for answer in answers:
            for name in answer:
                self.last_answer[name] = now
        for key, (task_id, name) in held.items():
            silent = now - self.last_answer.setdefault(name, now)
            if silent > self.lost_after:
                self._declare_lost(key, task_id, name, silent)

    def _declare_lost(self, step_key: str, task_id: str, worker: str, silent: float) -> None:
        host = worker.split("@", 1)[-1]
        message = (
            f"host {host} is lost: its Celery worker {worker} has not answered for {silent:.0f} s "
            f"(HANROCK_HOST_LOST_AFTER) while running step {step_key}; the steps running elsewhere finish, "
            "then the run fails. Run the same command again: finished trials are kept and only the missing "
            "ones run (start a worker on another host if none is left)."
        )
        self.log(message)
        self.app.backend.mark_as_failure(task_id, WorkerLostError(message))
        self.app.control.revoke(task_id)
        with self._lock:
            self.steps.pop(step_key, None)
            self.lost.append(message)


class WatchedCeleryExecutor(CeleryExecutor):
    """dagster-celery's executor with a HostWatch over the steps it sends."""

    def __init__(self, lost_after: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lost_after = lost_after

    def execute(self, plan_context, execution_plan):
        watch = HostWatch(make_app(self.app_args()), self.lost_after, plan_context.log.error)

        def submit(app, context, step, queue, priority, known_state):
            result = _submit_task(app, context, step, queue, priority, known_state)
            watch.add(step.key, result.id)
            return result

        with watch:
            yield from core_celery_execution_loop(plan_context, execution_plan, step_execution_fn=submit)


def watched_celery_executor(lost_after: float):
    """The Celery executor definition whose runs declare a host lost after `lost_after` silent seconds."""

    @executor(name="celery", config_schema=CELERY_CONFIG, requirements=multiple_process_executor_requirements())
    def celery_with_host_watch(init_context):
        config = init_context.executor_config
        return WatchedCeleryExecutor(
            lost_after,
            broker=config.get("broker"),
            backend=config.get("backend"),
            config_source=config.get("config_source"),
            include=config.get("include"),
            retries=RetryMode.from_config(config["retries"]),
        )

    return celery_with_host_watch


class GuardedStepTask(celery.Task):
    """A worker's step task that drops a step message delivered again: its run has ended, or the step
    already succeeded in it (Redis hands out an unacknowledged message again after its visibility timeout,
    e.g. when the worker that took it lost its broker connection while training)."""

    def __call__(self, execute_step_args_packed, executable_dict):
        args = unpack_value(execute_step_args_packed, as_type=ExecuteStepArgs)
        instance = DagsterInstance.from_ref(args.instance_ref)
        run = instance.get_run_by_id(args.run_id)
        steps = ", ".join(args.step_keys_to_execute or [])
        if run is not None and run.is_finished:
            print(f"hanrock: step {steps} of run {args.run_id} not run: the run already ended ({run.status.value})")
            return []
        if _succeeded(instance, args.run_id) >= set(args.step_keys_to_execute or [None]):
            print(f"hanrock: step {steps} of run {args.run_id} not run again: it already succeeded")
            return []
        return super().__call__(execute_step_args_packed, executable_dict)


def _succeeded(instance: DagsterInstance, run_id: str) -> set[str]:
    """The step keys with a success event in the run."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_SUCCESS).records
    return {r.event_log_entry.step_key for r in records}
