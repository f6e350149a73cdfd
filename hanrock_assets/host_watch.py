"""Lost hosts in a Celery run: the launching side watches the workers that hold its started steps.

dagster-celery waits for each step's Celery result; a worker whose whole host vanished never sends
one, and Redis keeps the unacknowledged message for its visibility timeout (an hour), so the run would
wait that long or forever.  `HostWatch` asks the workers holding started steps for a ping every few
seconds (Celery's remote control, through the broker); a worker that has not answered for
HANROCK_HOST_LOST_AFTER seconds is declared lost and its task revoked.  While another worker answers,
the step is sent to the queue again (`StepHandle` swaps the result the execution loop waits on), so a
surviving worker runs it: the trial the lost host was training is marked interrupted and run again from
its start, finished trials are kept, and the run completes with no command typed.  With no worker left,
or once a step has been sent MAX_RESENDS times, its result is set to a failure that names the worker, its
host and the step; the run fails and the same command resumes it.  `GuardedStepTask` is the worker's
half: a step message delivered again after its run ended (Redis hands an unacknowledged message out again
once the visibility timeout passes) is dropped rather than run, so no trial is trained by a run nobody
waits for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import celery
import celery.result
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


MAX_RESENDS = 2  # a step sent again more often than this fails the run instead (something beyond one lost host)


class StepHandle:
    """The Celery result of one step as dagster-celery's loop sees it (`ready`, `get`, `revoke`), pointing at
    the step's latest submission: the watch sends a lost host's step again and swaps the result here."""

    def __init__(self, result: celery.result.AsyncResult, resend: Callable[[], celery.result.AsyncResult]) -> None:
        self.result, self.resend, self.sent = result, resend, 1

    @property
    def id(self) -> str:
        return self.result.id

    def ready(self) -> bool:
        return self.result.ready()

    def get(self):
        return self.result.get()

    def revoke(self) -> None:
        self.result.revoke()

    def send_again(self) -> None:
        """Submit the step once more; the loop now waits on the new submission."""
        self.result = self.resend()
        self.sent += 1


class HostWatch:
    """Pings the workers that hold started steps; sends again (or fails) the step of one silent for `lost_after`
    seconds."""

    def __init__(self, app: celery.Celery, lost_after: float, log: Log, warn: Log | None = None) -> None:
        self.app, self.lost_after, self.log, self.warn = app, lost_after, log, warn or log
        self.steps: dict[str, StepHandle] = {}  # step key -> its handle, while its result is not ready
        self.last_answer: dict[str, float] = {}  # worker name -> time of its last answer (or first sight)
        self.lost: list[str] = []  # the messages of the steps that failed for a lost host
        self.resent: list[str] = []  # the messages of the steps sent again
        self.outage = False  # the last round could not reach the broker: the next one restarts every clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="hanrock-host-watch", daemon=True)

    def add(self, step_key: str, handle: StepHandle) -> None:
        with self._lock:
            self.steps[step_key] = handle

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

    def holders(self) -> dict[str, tuple[StepHandle, str]]:
        """Step key -> (handle, worker name) of every started step whose result is not in yet."""
        with self._lock:
            steps = dict(self.steps)
        held = {}
        for key, handle in steps.items():
            result = handle.result
            if result.ready():
                with self._lock:
                    self.steps.pop(key, None)
            elif result.state == "STARTED" and isinstance(result.info, dict) and result.info.get("hostname"):
                held[key] = (handle, result.info["hostname"])
        return held

    def check(self, now: float) -> None:
        """One round: ping the holders, and handle the steps of workers silent for longer than `lost_after`."""
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
        for key, (handle, name) in held.items():
            silent = now - self.last_answer.setdefault(name, now)
            if silent > self.lost_after:
                self._declare_lost(key, handle, name, silent)

    def survivors(self, lost: str) -> list[str]:
        """The workers other than `lost` that answer a ping now."""
        answers = self.app.control.ping(timeout=PING_TIMEOUT_S) or []
        return sorted({name for answer in answers for name in answer} - {lost})

    def _declare_lost(self, step_key: str, handle: StepHandle, worker: str, silent: float) -> None:
        host = worker.split("@", 1)[-1]
        lost = (
            f"host {host} is lost: its Celery worker {worker} has not answered for {silent:.0f} s "
            f"(HANROCK_HOST_LOST_AFTER) while running step {step_key}"
        )
        task_id = handle.id
        self.app.control.revoke(task_id)
        survivors = self.survivors(worker) if handle.sent <= MAX_RESENDS else []
        if survivors:
            handle.send_again()
            message = (
                f"{lost}; the step is sent to the queue again (time {handle.sent}), where a surviving worker "
                f"({', '.join(survivors)}) takes it: the trial it was training runs again from its start, finished "
                "trials are kept"
            )
            self.warn(message)
            self.last_answer.pop(worker, None)
            with self._lock:
                self.resent.append(message)
            return
        why = "no other worker answers" if handle.sent <= MAX_RESENDS else f"it was sent {handle.sent} times already"
        message = (
            f"{lost}; {why}, so the step fails: the steps running elsewhere finish, then the run fails. Run the same "
            "command again: finished trials are kept and only the missing ones run (start a worker on another host "
            "if none is left)."
        )
        self.log(message)
        self.app.backend.mark_as_failure(task_id, WorkerLostError(message))
        with self._lock:
            self.steps.pop(step_key, None)
            self.lost.append(message)


class WatchedCeleryExecutor(CeleryExecutor):
    """dagster-celery's executor with a HostWatch over the steps it sends."""

    def __init__(self, lost_after: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lost_after = lost_after

    def execute(self, plan_context, execution_plan):
        log = plan_context.log
        watch = HostWatch(make_app(self.app_args()), self.lost_after, log.error, log.warning)

        def submit(app, context, step, queue, priority, known_state):
            def send() -> celery.result.AsyncResult:
                return _submit_task(app, context, step, queue, priority, known_state)

            handle = StepHandle(send(), send)
            watch.add(step.key, handle)
            return handle

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
